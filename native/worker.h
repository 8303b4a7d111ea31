/*
 * Workers: forked children that do one slow or namespace-switching job each (exec, files, chown,
 * rmtree, network attach) and write frames for their request to a pipe; the keeper relays them to
 * Node. A worker may also get an input stream on its fd 0, fed by DATA frames from Node (PUT of a
 * large file, exec stdin): the keeper writes it without blocking and acknowledges each chunk once it
 * is in the pipe (DATA_ACK), which is Node's flow control.
 *
 * Processes rather than threads: a worker changes namespaces (setns) and credentials, and the
 * keeper itself must stay single-threaded to clone containers and to unshare.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "util.h"

/* Runs in the child with its output pipe `out` (fd 3); must not return (worker_ok/worker_fail). */
typedef void (*worker_fn)(int out, uint32_t reqid, void *arg);

#define WORKER_PASS_FD 4 /* where pass_fd lands in the child */
/* A container's namespaces, in the order join_container() enters them; worker_spawn_in() puts
 * them at WORKER_NS_FD.. in the child. */
enum { SW_NS_CGROUP, SW_NS_IPC, SW_NS_UTS, SW_NS_NET, SW_NS_PID, SW_NS_MNT, SW_NS_COUNT };
#define WORKER_NS_FD 5

/* 0 or -errno (nothing was answered: the caller replies). kind (enum sw_err_kind) is the error kind
 * of the worker's failures that do not set their own; pass_fd (if >= 0) is fd 4 in the child; with
 * `input`, fd 0 of the child reads what worker_input() feeds for reqid. */
int worker_spawn(uint32_t reqid, int kind, worker_fn fn, void *arg, int pass_fd, bool input);
/* The same for a job inside a container: ns (SW_NS_COUNT fds the keeper holds) land at
 * WORKER_NS_FD + SW_NS_*. The keeper opens them while init is still dumpable: init then makes
 * itself non-dumpable, after which /proc/<init>/ns can no longer be opened, by us or the container. */
int worker_spawn_in(const int *ns, uint32_t reqid, int kind, worker_fn fn, void *arg, int pass_fd, bool input);
/* A DATA frame for reqid's input: queued (acknowledged once written); eof closes the input after
 * it. Returns -ESRCH when no live worker of reqid takes input (the caller ignores the data). */
int worker_input(uint32_t reqid, const uint8_t *data, size_t len, bool eof);
/* Node gave reqid up (an exec whose caller stopped waiting: a probe past its timeout): its worker
 * gets SIGUSR1, which an exec worker turns into SIGKILL for its process group and others die of.
 * The request is still answered (its worker's frames or "exited without an answer"). */
void worker_cancel(uint32_t reqid);
/* SIGCHLD: true if pid was a worker (now reaped). */
bool worker_reaped(pid_t pid, int status);
/* Teardown: SIGKILL every worker, then wait for them. */
void worker_kill_all(void);
void worker_wait_all(void);
/* In a forked child that is not a worker (a container init): drops the workers' buffers. */
void worker_child_release(void);

/* For code running inside a worker. */
void worker_send(int out, sw_buf *b);
void worker_fail(int out, uint32_t reqid, const sw_error *e) __attribute__((noreturn));
void worker_ok(int out, uint32_t reqid) __attribute__((noreturn));

/* The keeper: one per Node process. Owns the user namespace, the container table and workers. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "util.h"

enum watch_kind { W_INPUT, W_SIGNAL, W_CTL, W_OUT, W_WORKER, W_FORWARD };

/* What an epoll event points at. */
struct watch {
  enum watch_kind kind;
  void *obj;
  int idx;
};

/* Mapping kinds Node reports in MAPPED (T_TYPE). */
enum { MAP_IDENTITY = 1, MAP_SUBID = 2, MAP_SINGLE = 3 };

int keeper_main(const char *state_root) __attribute__((noreturn));

/* userns.c: unshare the user namespace, let Node map it, become root in it. Returns the map kind. */
int userns_enter(sw_reader *in);

/* Frames to Node (fd 1). */
void send_frame(sw_buf *b);
void reply_ok(uint32_t reqid);
void reply_error(uint32_t reqid, const char *stage, int errnum);
/* Builds an ERROR frame into b (used by workers, which write to their own pipe). */
void build_error(sw_buf *b, uint32_t reqid, const char *stage, int errnum);

/* Workers: a forked child that does one slow or namespace-switching job and writes frames for
 * reqid to its pipe; the keeper relays them to Node. fn runs in the child and must not return. */
typedef void (*worker_fn)(int out, uint32_t reqid, void *arg);
int worker_spawn(uint32_t reqid, worker_fn fn, void *arg);
/* Like worker_spawn, and pass_fd (if >= 0) is open as fd 4 in the child. */
int worker_spawn_fd(uint32_t reqid, worker_fn fn, void *arg, int pass_fd);
/* Helpers for code running inside a worker. */
void worker_send(int out, sw_buf *b);
void worker_fail(int out, uint32_t reqid, const sw_error *e) __attribute__((noreturn));
void worker_ok(int out, uint32_t reqid) __attribute__((noreturn));

/* exec.c */
struct proc_spec;
void exec_worker(int out, uint32_t reqid, void *arg);
struct exec_job {
  pid_t init_pid;
  struct proc_spec *proc;
  uint8_t *stdin_data;
  size_t stdin_len;
  bool has_stdin;
};

/* files.c */
struct path_job {
  char *root, *path, *list;
  pid_t init_pid;
  const uint8_t *body;
  size_t body_len;
};
void chown_list_worker(int out, uint32_t reqid, void *arg);
void rmtree_worker(int out, uint32_t reqid, void *arg);
void put_worker(int out, uint32_t reqid, void *arg);
void get_worker(int out, uint32_t reqid, void *arg);
/* setns() into the mount (and other) namespaces of a container init: 0 or -errno with stage. */
int join_container(pid_t init_pid, bool all, sw_error *e);

/*
 * Prepared network namespaces (issue 16 target 2). Starting slirp4netns (exec, shared libraries,
 * its tap child, sandbox) was the largest step of an isolated container's boot after CREATE. The
 * keeper keeps, per outbound-helper command line (a "key": Node sends it in CREATE as POOL_ARGs),
 * one spare: a network namespace made by a forked child of the keeper (so owned by the keeper's user
 * namespace, as a container's own), lo up, the persistent tap made, and slirp4netns already attached
 * to it (`--netns-type=path /proc/self/fd/5`: it inherits the namespace's fd) with its ready byte
 * received. A CREATE whose key has a ready spare clones init without CLONE_NEWNET and init setns()es
 * into the spare first thing; the spare's helper becomes the container's (killed with it, as one
 * started for it) and the OUTBOUND that follows is answered at once. A spare serves exactly one
 * container and is never returned. The first spare of a key is made when the keeper is idle (no
 * container between CREATE and its START's answer), the next one as soon as a CREATE took one (while
 * that container's init mounts its root: made only once idle, it was not ready yet for a start right
 * behind, and every other start of a loop made its own helper), and only for a key whose helper, started for a container as today, got ready once (so a command line that cannot
 * work never leaves a spare behind); a spare not ready in 10 s is killed at the next refill. A CREATE
 * without POOL_ARGs, or a key with no ready spare, takes today's path; a key whose spares failed
 * twice is not refilled again. Spares die with the keeper: their slirp4netns are its children
 * (exit pipe, PDEATHSIG), the namespaces' last fds the keeper's and theirs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CREATE's body: the spare for its POOL_ARGs (and TAP), if one is ready. Returns the namespace's fd
 * (the caller owns it) and the spare's helper pid in *helper, or -1 (the key is remembered for the
 * refill). */
int netpool_take(const uint8_t *body, size_t len, const char *id, pid_t *helper);
/* Container `id`'s own outbound helper got ready: its CREATE's key is known to work, spares are made
 * for it from then on (a helper that never gets ready, as a test's stand-in, never gets spares). */
void netpool_outbound_ready(const char *id);
/* Makes the missing spares (when the keeper is idle, and right after a CREATE took one). */
void netpool_refill(void);
/* outbound.c's events (outbound_set_events, wired by the keeper): the spare helper `pid` wrote its
 * ready byte / ended before it was adopted. */
void netpool_spare_ready(pid_t pid);
void netpool_spare_gone(pid_t pid);
/* SIGCHLD: true if pid was a namespace-making child (reaped). */
bool netpool_reaped(pid_t pid);

/*
 * Outbound network helpers (slirp4netns) started by the keeper for a container, so that they run
 * inside the keeper's user namespace. Why there: slirp4netns --enable-sandbox makes a mount
 * namespace of its own and unmounts its old root. Started by real root in the host's user
 * namespace, that namespace copies the host's shared mounts as peers and the unmount propagates
 * back (Docker's overlay mounts vanished). A mount namespace made inside the keeper's user
 * namespace copies them as slaves (the kernel demotes shared mounts when a less privileged user
 * namespace copies them): nothing propagates out, and no `unshare --mount` exec is needed.
 *
 * The helper gets fd 3 = the write end of a ready pipe (slirp4netns writes one byte once the
 * interface is configured), fd 4 = the read end of an exit pipe whose write end only the keeper
 * holds (it exits when the keeper goes, however the keeper goes; PR_SET_PDEATHSIG covers a helper
 * that ignores the pipe), fds 1 and 2 = a pipe the keeper drains: its lines go to the keeper's
 * stderr (debug) and the last ones into the error when it fails before it is ready.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* OUTBOUND: ID, ARG... (ARG[0] = the binary's path; an ARG_PID is written as `init_pid`). Answered OK
 * PID once the helper wrote its ready byte; ERROR (EK_NETWORK, STATUS = its wait status when it exited,
 * DATA = its last output) when it exits, closes the ready pipe or is stopped first. */
void outbound_start(uint32_t reqid, const char *id, pid_t init_pid, const uint8_t *body, size_t len);
/* OUTBOUND_STOP: ID. SIGKILLs the container's helpers; answered once they are reaped. */
void outbound_stop(uint32_t reqid, const char *id);
/* The container is gone (reaped or removed): its helpers are killed, nobody is answered. */
void outbound_container_gone(const char *id);
/* SIGCHLD: true if pid was an outbound helper (now reaped). */
bool outbound_reaped(pid_t pid, int status);
/* Teardown: SIGKILL every helper (they would also go through their exit pipe). */
void outbound_kill_all(void);
/* Who hears of helpers getting ready and of spares ending (the network namespace pool, netpool.h).
 * The keeper wires them at start-up, so this file needs nothing from the pool above it. */
struct outbound_events {
  void (*helper_ready)(const char *id); /* container `id`'s own helper wrote its ready byte */
  void (*spare_ready)(pid_t pid);       /* spare `pid` wrote its ready byte */
  void (*spare_gone)(pid_t pid);        /* spare `pid` ended before a container adopted it */
  void (*helper_gone)(const char *id);  /* a helper of container `id` was reaped */
};
void outbound_set_events(const struct outbound_events *events);
/* A pool spare (netpool.h): argv run with netns_fd at fd 5, for no container yet. Returns its pid or
 * -errno; the events' spare_ready hears of its ready byte, spare_gone of its end before adoption. */
pid_t outbound_start_spare(char **argv, int netns_fd);
/* The ready spare `pid` becomes container `id`'s helper (stopped, killed, answered as one started for it).
 * False when it is not a ready, live spare. */
bool outbound_adopt(pid_t pid, const char *id);
/* OUTBOUND for a container that adopted a spare: answered OK PID at once (ERROR when it died meanwhile). */
void outbound_answer_adopted(uint32_t reqid, const char *id);
/* Container `id` has a live helper that wrote its ready byte. */
bool outbound_is_ready(const char *id);
/* Container `id` has a helper not reaped yet. */
bool outbound_live(const char *id);
/* SIGKILL helper `pid` (a spare dropped unused). */
void outbound_kill_pid(pid_t pid);

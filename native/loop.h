/*
 * The keeper's event loop: one epoll set, a callback per watched fd, and frees deferred to the end
 * of the current batch of events.
 *
 * Why deferred: one epoll_wait batch can hold several events for objects that a handler earlier in
 * the same batch closes (a container exits and takes its listeners and UDP flows with it, then a
 * client's connect to one of those listeners is the next event). Such objects are unhooked at once
 * (loop_forget: their remaining events are skipped) and freed only after the batch (loop_defer).
 * Nothing here knows about containers or frames: everything above depends on this file, not back.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct watch;
typedef void (*watch_fn)(struct watch *w, uint32_t events);

/* What an epoll event points at. A watch whose fn is NULL is forgotten: its events are skipped. */
struct watch {
  watch_fn fn;
  void *obj;
  int idx;
};

/* 0 or -errno (the loop stays usable: a failure is the caller's request's error, never fatal). */
int loop_init(void);
int loop_fd(void);
int loop_add(int fd, uint32_t events, struct watch *w);
int loop_mod(int fd, uint32_t events, struct watch *w);
void loop_del(int fd);
/* Stops watching *fd, closes it and sets it to -1 (no-op for -1). */
void loop_del_close(int *fd);
/* Skips the rest of this batch's events for w (w must stay allocated until the batch ends). */
static inline void loop_forget(struct watch *w) { w->fn = NULL; }
/* Calls fn(p) after the current batch (at once when no batch runs). */
void loop_defer(void (*fn)(void *), void *p);
/* Work a handler put off so that other fds' events run first (a relay past its turn's budget):
 * `fn` runs after each batch (inside it: frees stay deferred) and returns whether work is still
 * put off, in which case the next epoll_wait does not block. One hook (the forwarder's). */
void loop_set_backlog(bool (*fn)(void));
/* Waits and dispatches forever; `after_batch` (may be NULL) runs after each batch, before the
 * deferred frees. */
void loop_run(void (*after_batch)(void)) __attribute__((noreturn));

#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util.h"

struct deferred {
  struct deferred *next;
  void (*fn)(void *);
  void *p;
};

static struct {
  int epfd;
  bool in_batch, backlog_left;
  bool (*backlog)(void);
  struct deferred *dead, **tail;
} L = {.epfd = -1};

void loop_set_backlog(bool (*fn)(void)) { L.backlog = fn; }

int loop_init(void) {
  L.epfd = epoll_create1(EPOLL_CLOEXEC);
  L.tail = &L.dead;
  return L.epfd < 0 ? -errno : 0;
}

int loop_fd(void) { return L.epfd; }

int loop_add(int fd, uint32_t events, struct watch *w) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  return epoll_ctl(L.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_mod(int fd, uint32_t events, struct watch *w) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  return epoll_ctl(L.epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del(int fd) {
  if (fd >= 0) epoll_ctl(L.epfd, EPOLL_CTL_DEL, fd, NULL);
}

void loop_del_close(int *fd) {
  if (*fd < 0) return;
  loop_del(*fd);
  close(*fd);
  *fd = -1;
}

static void run_deferred(void) {
  /* A deferred free may defer more (a listener's flows): run until the list stays empty. */
  while (L.dead) {
    struct deferred *d = L.dead;
    L.dead = d->next;
    if (!L.dead) L.tail = &L.dead;
    d->fn(d->p);
    free(d);
  }
}

void loop_defer(void (*fn)(void *), void *p) {
  if (!L.in_batch) {
    fn(p);
    return;
  }
  struct deferred *d = xmalloc(sizeof *d);
  *d = (struct deferred){NULL, fn, p};
  *L.tail = d;
  L.tail = &d->next;
}

void loop_run(void (*after_batch)(void)) {
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(L.epfd, evs, 64, L.backlog_left ? 0 : -1);
    if (n < 0) {
      if (errno != EINTR) die_with_error("epoll_wait");
      n = 0;
    }
    L.in_batch = true;
    for (int i = 0; i < n; i++) {
      struct watch *w = evs[i].data.ptr;
      if (w->fn) w->fn(w, evs[i].events);
    }
    /* After the events that were waiting: what was put off goes behind them, so it cannot starve them. */
    if (L.backlog) L.backlog_left = L.backlog();
    if (after_batch) after_batch();
    L.in_batch = false;
    run_deferred();
  }
}

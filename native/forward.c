/*
 * Port publishing (TCP). The keeper listens in the host network namespace; for each accepted
 * connection it asks the container's init for a socket connecting to 127.0.0.1:<port> inside the
 * container (rootless processes cannot setns back into the host netns, so init makes it), then
 * forks a small relay that splices bytes both ways through pipes.
 */
#include "forward.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/close_range.h>

#include "process.h"
#include "spec.h"

struct listener {
  struct listener *next;
  char *id;
  int fd, ctl;
  uint32_t port, cport;
  struct watch w;
};

struct pending_conn {
  struct pending_conn *next;
  char *id;
  uint32_t cookie;
  int client;
};

struct relay {
  struct relay *next;
  char *id;
  pid_t pid;
};

static struct {
  int epfd;
  uint32_t next_cookie;
  struct listener *listeners;
  struct pending_conn *pending;
  struct relay *relays;
} F;

void forward_init(int epfd) { F.epfd = epfd; }

static void listener_close(struct listener *l) {
  epoll_ctl(F.epfd, EPOLL_CTL_DEL, l->fd, NULL);
  close(l->fd);
  free(l->id);
  free(l);
}

void forward_publish(uint32_t reqid, const char *id, int ctl, const uint8_t *body, size_t len) {
  uint64_t proto = 1, port = 0, cport = 0;
  spec_get_uint(body, len, T_PROTO, &proto);
  spec_get_uint(body, len, T_PORT, &port);
  spec_get_uint(body, len, T_CONTAINER_PORT, &cport);
  cleanup_free char *ip = spec_get_str(body, len, T_HOST_IP);
  if (proto != 1) {
    reply_error(reqid, "publish: only tcp ports can be published", EPROTONOSUPPORT);
    return;
  }
  if (port > 65535 || cport == 0 || cport > 65535) {
    reply_error(reqid, "publish: bad port", EINVAL);
    return;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  const char *host = ip && *ip ? ip : "127.0.0.1";
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    sl = sizeof *s4;
  } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    sl = sizeof *s6;
  } else {
    reply_error(reqid, "publish: bad host address", EINVAL);
    return;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reply_error(reqid, "publish: socket", errno);
    return;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
    char stage[128];
    snprintf(stage, sizeof stage, "publish: bind %s:%u", host, (unsigned)port);
    reply_error(reqid, stage, errno);
    close(fd);
    return;
  }
  sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  uint16_t bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
  struct listener *l = xcalloc(1, sizeof *l);
  l->id = xstrdup(id);
  l->fd = fd;
  l->ctl = ctl;
  l->port = bound;
  l->cport = (uint32_t)cport;
  l->w = (struct watch){W_FORWARD, l, 0};
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->w};
  epoll_ctl(F.epfd, EPOLL_CTL_ADD, fd, &ev);
  l->next = F.listeners;
  F.listeners = l;
  sw_buf b = {0};
  buf_begin(&b, FR_OK, reqid);
  buf_put_u32(&b, T_PORT, bound);
  send_frame(&b);
  buf_free(&b);
}

void forward_unpublish(uint32_t reqid, const uint8_t *body, size_t len) {
  uint64_t port = 0;
  spec_get_uint(body, len, T_PORT, &port);
  for (struct listener **pp = &F.listeners; *pp; pp = &(*pp)->next) {
    if ((*pp)->port != port) continue;
    struct listener *l = *pp;
    *pp = l->next;
    listener_close(l);
    break;
  }
  reply_ok(reqid);
}

void forward_event(struct watch *w, uint32_t events) {
  (void)events;
  struct listener *l = w->obj;
  for (;;) {
    int c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    struct pending_conn *p = xcalloc(1, sizeof *p);
    p->id = xstrdup(l->id);
    p->cookie = ++F.next_cookie;
    p->client = c;
    struct init_msg m = {.kind = IM_SOCKET_REQ, .value = (int32_t)l->cport, .aux = 1, .tag = p->cookie};
    if (init_send(l->ctl, &m, -1) < 0) {
      close(c);
      free(p->id);
      free(p);
      continue;
    }
    p->next = F.pending;
    F.pending = p;
  }
}

/* Closes with RST so the client sees "connection reset" at once, like a refused port. */
static void reset_close(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

struct dir {
  int from, to;
  int p[2];
  size_t inpipe;
  bool eof, done;
};

NORETURN static void relay_main(int client, int inner) {
  /* Wait for the in-container connect; a refused port resets the client right away. */
  struct pollfd cp = {.fd = inner, .events = POLLOUT};
  if (TEMP_FAILURE_RETRY(poll(&cp, 1, 10000)) <= 0) {
    reset_close(client);
    _exit(0);
  }
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(inner, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
    reset_close(client);
    _exit(0);
  }
  int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(inner, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct dir d[2] = {{.from = client, .to = inner}, {.from = inner, .to = client}};
  for (int i = 0; i < 2; i++)
    if (pipe2(d[i].p, O_CLOEXEC | O_NONBLOCK) < 0) _exit(1);
  while (!(d[0].done && d[1].done)) {
    struct pollfd pf[4];
    for (int i = 0; i < 2; i++) {
      pf[2 * i] = (struct pollfd){.fd = !d[i].eof && d[i].inpipe < 65536 ? d[i].from : -1, .events = POLLIN};
      pf[2 * i + 1] = (struct pollfd){.fd = d[i].inpipe ? d[i].to : -1, .events = POLLOUT};
    }
    if (TEMP_FAILURE_RETRY(poll(pf, 4, -1)) < 0) _exit(1);
    for (int i = 0; i < 2; i++) {
      if (pf[2 * i].revents) {
        ssize_t n = splice(d[i].from, NULL, d[i].p[1], NULL, 65536, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) d[i].inpipe += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR)) d[i].eof = true;
      }
      if (pf[2 * i + 1].revents) {
        ssize_t n = splice(d[i].p[0], NULL, d[i].to, NULL, d[i].inpipe, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) d[i].inpipe -= (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR) _exit(0); /* peer gone: drop both */
      }
      if (d[i].eof && d[i].inpipe == 0 && !d[i].done) {
        shutdown(d[i].to, SHUT_WR);
        d[i].done = true;
      }
    }
  }
  _exit(0);
}

void forward_socket_reply(const char *id, const struct init_msg *m, int fd) {
  struct pending_conn *p = NULL;
  for (struct pending_conn **pp = &F.pending; *pp; pp = &(*pp)->next)
    if ((*pp)->cookie == m->tag) {
      p = *pp;
      *pp = p->next;
      break;
    }
  if (!p) {
    if (fd >= 0) close(fd);
    return;
  }
  if (fd < 0) {
    reset_close(p->client);
  } else {
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      process_reset_signals();
      int a = fcntl(p->client, F_DUPFD_CLOEXEC, 1000), b = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
      if (a < 0 || b < 0 || dup3(a, 3, O_CLOEXEC) < 0 || dup3(b, 4, O_CLOEXEC) < 0) _exit(1);
      syscall(SYS_close_range, 5, ~0U, 0);
      int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (nul >= 0) dup2(nul, 0), dup2(nul, 1);
      relay_main(3, 4);
    }
    if (pid > 0) {
      struct relay *r = xcalloc(1, sizeof *r);
      r->id = xstrdup(id);
      r->pid = pid;
      r->next = F.relays;
      F.relays = r;
    }
    close(fd);
    close(p->client);
  }
  free(p->id);
  free(p);
}

void forward_container_gone(const char *id) {
  for (struct listener **pp = &F.listeners; *pp;) {
    if (strcmp((*pp)->id, id)) {
      pp = &(*pp)->next;
      continue;
    }
    struct listener *l = *pp;
    *pp = l->next;
    listener_close(l);
  }
  for (struct pending_conn **pp = &F.pending; *pp;) {
    if (strcmp((*pp)->id, id)) {
      pp = &(*pp)->next;
      continue;
    }
    struct pending_conn *p = *pp;
    *pp = p->next;
    reset_close(p->client);
    free(p->id);
    free(p);
  }
  for (struct relay **pp = &F.relays; *pp;) {
    if (strcmp((*pp)->id, id)) {
      pp = &(*pp)->next;
      continue;
    }
    struct relay *r = *pp;
    *pp = r->next;
    kill(r->pid, SIGKILL); /* reaped by the keeper's SIGCHLD loop */
    free(r->id);
    free(r);
  }
}

void forward_shutdown(void) {
  for (struct relay *r = F.relays; r; r = r->next) kill(r->pid, SIGKILL);
}

bool forward_reaped(pid_t pid) {
  for (struct relay **pp = &F.relays; *pp; pp = &(*pp)->next)
    if ((*pp)->pid == pid) {
      struct relay *r = *pp;
      *pp = r->next;
      free(r->id);
      free(r);
      return true;
    }
  return false;
}

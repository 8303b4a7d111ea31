/*
 * Port publishing. The keeper listens in the host network namespace.
 *
 * TCP: each accepted connection gets a socket in the container's network namespace connecting to
 * 127.0.0.1:<port> (rootless processes cannot setns back into the host netns, so init makes the
 * sockets: a few unconnected ones ahead of time per listener, which the keeper connects itself;
 * one on request when that pool is empty). Bytes are relayed in the keeper's event loop
 * (edge-triggered epoll; small messages copied with one recv and one send, bulk spliced through one
 * pipe per direction (see dir_copy); half-close passed on; at most TURN_BYTES per direction and
 * turn, then the connection waits behind the pending events).
 *
 * UDP: one host socket per published port; each distinct client address gets a "flow": a UDP
 * socket init creates inside the container, connected to 127.0.0.1:<port>. The keeper relays
 * datagrams itself (no fork: one datagram is one syscall each way). Flows expire after
 * SLIPWAY_UDP_FLOW_IDLE_MS (60 s) without traffic; at most SLIPWAY_UDP_MAX_FLOWS (256) per
 * port, the least recently used flow is dropped to make room.
 *
 * Host access (the other direction): for each host port a container may reach, init makes a
 * listening socket on 169.254.1.2:<port> inside the container (host.slipway.internal); the keeper
 * accepts on it and connects to the host's 127.0.0.1:<port> itself, then relays like a published
 * port. Only the ports asked for are reachable: slirp4netns/pasta never map the host's loopback.
 */
#include "forward.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

#include "loop.h"
#include "process.h"
#include "reply.h"
#include "spec.h"

/* Watch indexes (struct watch.idx) of the W_FORWARD kind. */
enum { FW_TCP_LISTENER = 0, FW_UDP_SOCKET = 1, FW_UDP_FLOW = 2, FW_TIMER = 3, FW_TCP_CLIENT = 4, FW_TCP_INNER = 5 };

/* Unconnected TCP sockets init makes ahead of time per TCP listener, so an accepted connection
 * needs no round trip through init (the keeper connects the socket itself: a socket belongs to
 * the network namespace it was created in). Pool requests carry POOL_TAG | listener serial. */
#define POOL_SIZE 8
#define POOL_TAG 0x80000000u

#define UDP_QUEUE_MAX 32 /* datagrams held while init makes a flow's socket */
#define UDP_BUF 65536

struct listener;

struct dgram {
  struct dgram *next;
  size_t len;
  uint8_t data[];
};

struct udp_flow {
  struct udp_flow *next;
  struct listener *l;
  struct sockaddr_storage peer;
  socklen_t peerlen;
  int fd; /* -1 until init answers */
  uint32_t cookie;
  uint64_t last_ms;
  struct dgram *q, **qtail;
  unsigned nq;
  struct watch w;
};

struct listener {
  struct listener *next;
  char *id;
  int fd, ctl, proto;
  uint32_t port, cport;
  struct watch w;
  struct udp_flow *flows;
  unsigned nflows;
  uint32_t serial;
  int pool[POOL_SIZE];
  unsigned npool, pool_pending;
  bool reverse; /* host access: fd listens in the container, `port` is the host's 127.0.0.1 port */
  unsigned nconns; /* host access: connections relayed now (its container is the client) */
  bool loopback; /* bound to a loopback address: accepted sockets inherit tcp_loopback_cc */
};

static void pool_fill(struct listener *l);

struct pending_conn {
  struct pending_conn *next;
  char *id;
  uint32_t cookie;
  int client;
};

/* A FR_HOST_FORWARD waiting for init's listening socket. */
struct host_req {
  struct host_req *next;
  char *id;
  uint32_t reqid, cookie, port;
  int ctl;
};

static struct {
  uint32_t next_cookie, next_serial;
  struct listener *listeners;
  struct pending_conn *pending;
  struct host_req *host_reqs;
  int timerfd;
  bool timer_armed;
  struct watch w_timer;
  uint64_t idle_ms;
  unsigned max_flows;
  uint8_t *buf;
  unsigned nconns; /* TCP connections relayed or waiting for init's socket */
  int spare_fd;    /* held to be closed when accept meets EMFILE (see tcp_accept) */
} F = {.spare_fd = -1};

static uint64_t env_u64(const char *name, uint64_t def, uint64_t min, uint64_t max) {
  const char *v = getenv(name);
  if (!v || !*v) return def;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end || n < min || n > max) return def;
  return n;
}

static void forward_event(struct watch *w, uint32_t events);
static bool conn_run_ready(void);

int forward_init(void) {
  F.idle_ms = env_u64("SLIPWAY_UDP_FLOW_IDLE_MS", 60000, 10, 86400000);
  F.max_flows = (unsigned)env_u64("SLIPWAY_UDP_MAX_FLOWS", 256, 1, 65536);
  F.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  F.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (F.timerfd < 0) return -errno;
  F.w_timer = (struct watch){forward_event, NULL, FW_TIMER};
  loop_set_backlog(conn_run_ready);
  return loop_add(F.timerfd, EPOLLIN, &F.w_timer);
}

/* The expiry sweep runs every idle/4 (at least 5 ms, at most 5 s) while any flow exists. */
static void timer_arm(bool on) {
  if (on == F.timer_armed) return;
  uint64_t tick = F.idle_ms / 4;
  if (tick < 5) tick = 5;
  if (tick > 5000) tick = 5000;
  struct itimerspec its = {0};
  if (on) {
    its.it_interval.tv_sec = (time_t)(tick / 1000);
    its.it_interval.tv_nsec = (long)(tick % 1000) * 1000000;
    its.it_value = its.it_interval;
  }
  if (timerfd_settime(F.timerfd, 0, &its, NULL) == 0) F.timer_armed = on;
}

/* Closes a flow now; its memory goes after the current epoll batch (later events of the batch may
 * still point at it: they are skipped). */
static void flow_free(struct udp_flow *f) {
  loop_del_close(&f->fd);
  while (f->q) {
    struct dgram *d = f->q;
    f->q = d->next;
    free(d);
  }
  loop_forget(&f->w);
  loop_defer(free, f);
}

/* Unlinks and frees one flow of its listener. */
static void flow_drop(struct udp_flow *f) {
  struct listener *l = f->l;
  for (struct udp_flow **pp = &l->flows; *pp; pp = &(*pp)->next)
    if (*pp == f) {
      *pp = f->next;
      l->nflows--;
      break;
    }
  flow_free(f);
}

static void listener_free(void *p) {
  struct listener *l = p;
  free(l->id);
  free(l);
}

/* Like flow_free: closed now, freed after the batch. */
static void listener_close(struct listener *l) {
  loop_del_close(&l->fd);
  for (unsigned i = 0; i < l->npool; i++) close(l->pool[i]);
  l->npool = 0;
  while (l->flows) {
    struct udp_flow *f = l->flows;
    l->flows = f->next;
    flow_free(f);
  }
  l->nflows = 0;
  loop_forget(&l->w);
  loop_defer(listener_free, l);
}

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
static bool is_loopback(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
  if (a->ss_family != AF_INET6) return false;
  const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
}

void forward_publish(uint32_t reqid, const char *id, int ctl, const uint8_t *body, size_t len) {
  uint64_t proto = 1, port = 0, cport = 0;
  spec_get_uint(body, len, T_PROTO, &proto);
  spec_get_uint(body, len, T_PORT, &port);
  spec_get_uint(body, len, T_CONTAINER_PORT, &cport);
  cleanup_free char *ip = spec_get_str(body, len, T_HOST_IP);
  if (proto != 1 && proto != 2) {
    reply_error(reqid, EK_BAD_REQUEST, "publish: protocol must be tcp (1) or udp (2)", EPROTONOSUPPORT);
    return;
  }
  if (port > 65535 || cport == 0 || cport > 65535) {
    reply_error(reqid, EK_BAD_REQUEST, "publish: bad port", EINVAL);
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
    reply_error(reqid, EK_PUBLISH_ADDRESS, "publish: bad host address", EINVAL);
    return;
  }
  bool udp = proto == 2;
  int fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reply_error(reqid, EK_PUBLISH_BIND, "publish: socket", errno);
    return;
  }
  int one = 1;
  /* SO_REUSEADDR on UDP would let two sockets share the port silently: TCP only. TCP_NODELAY is
   * inherited by accepted sockets, so relayed small writes are not held back by Nagle. */
  bool loopback = is_loopback(&ss);
  if (!udp) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Inherited by accepted sockets too. Only on a loopback address: a listener on another
     * address may have clients across a real network, where the host's choice stays (tcp_accept
     * picks Reno per connection then, for the clients that come from a loopback address). */
    if (loopback) tcp_loopback_cc(fd);
  }
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (!udp && listen(fd, 128) < 0)) {
    char stage[128];
    snprintf(stage, sizeof stage, "publish: bind %s %s:%u", udp ? "udp" : "tcp", host, (unsigned)port);
    reply_error(reqid, EK_PUBLISH_BIND, stage, errno);
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
  l->proto = (int)proto;
  l->loopback = loopback;
  l->w = (struct watch){forward_event, l, udp ? FW_UDP_SOCKET : FW_TCP_LISTENER};
  int r = loop_add(fd, EPOLLIN, &l->w);
  if (r < 0) {
    /* Answering OK here would publish a port nobody serves. */
    reply_error(reqid, EK_RESOURCES, "publish: watch the socket", -r);
    close(fd);
    free(l->id);
    free(l);
    return;
  }
  l->next = F.listeners;
  F.listeners = l;
  if (!udp) {
    l->serial = ++F.next_serial & ~POOL_TAG;
    pool_fill(l);
  }
  sw_buf b = {0};
  buf_begin(&b, FR_OK, reqid);
  buf_put_u32(&b, T_PORT, bound);
  send_frame(&b);
  buf_free(&b);
}

void forward_unpublish(uint32_t reqid, const uint8_t *body, size_t len) {
  uint64_t port = 0, proto = 0;
  spec_get_uint(body, len, T_PORT, &port);
  spec_get_uint(body, len, T_PROTO, &proto); /* absent: the first listener on the port */
  for (struct listener **pp = &F.listeners; *pp; pp = &(*pp)->next) {
    if ((*pp)->reverse || (*pp)->port != port || (proto && (uint64_t)(*pp)->proto != proto)) continue;
    struct listener *l = *pp;
    *pp = l->next;
    listener_close(l);
    break;
  }
  reply_ok(reqid);
}

/* ---- UDP ------------------------------------------------------------------------------------- */

static bool same_peer(const struct udp_flow *f, const struct sockaddr_storage *a, socklen_t al) {
  if (f->peerlen != al || f->peer.ss_family != a->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)&f->peer, *y = (const void *)a;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)&f->peer, *y = (const void *)a;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) &&
         x->sin6_scope_id == y->sin6_scope_id;
}

static struct udp_flow *flow_new(struct listener *l, const struct sockaddr_storage *a, socklen_t al) {
  if (l->nflows >= F.max_flows) {
    struct udp_flow *lru = NULL;
    for (struct udp_flow *f = l->flows; f; f = f->next)
      if (!lru || f->last_ms < lru->last_ms) lru = f;
    if (lru) flow_drop(lru);
  }
  struct udp_flow *f = xcalloc(1, sizeof *f);
  f->l = l;
  memcpy(&f->peer, a, al);
  f->peerlen = al;
  f->fd = -1;
  f->cookie = ++F.next_cookie & ~POOL_TAG;
  f->qtail = &f->q;
  f->last_ms = monotonic_ms();
  f->w = (struct watch){forward_event, f, FW_UDP_FLOW};
  struct init_msg m = {.kind = IM_SOCKET_REQ, .value = (int32_t)l->cport, .aux = 2, .tag = f->cookie};
  if (init_send(l->ctl, &m, -1) < 0) {
    free(f);
    return NULL;
  }
  f->next = l->flows;
  l->flows = f;
  l->nflows++;
  timer_arm(true);
  return f;
}

static void udp_socket_readable(struct listener *l) {
  if (!F.buf) F.buf = xmalloc(UDP_BUF);
  /* Bounded per wake-up so one busy port cannot starve the event loop. */
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    ssize_t n = recvfrom(l->fd, F.buf, UDP_BUF, MSG_DONTWAIT, (struct sockaddr *)&a, &al);
    if (n < 0) {
      if (errno == EINTR) continue;
      return; /* EAGAIN, or an ICMP error for an earlier reply: nothing to relay */
    }
    struct udp_flow *f = l->flows;
    while (f && !same_peer(f, &a, al)) f = f->next;
    if (!f && !(f = flow_new(l, &a, al))) continue;
    f->last_ms = monotonic_ms();
    if (f->fd >= 0) {
      (void)!send(f->fd, F.buf, (size_t)n, MSG_DONTWAIT); /* UDP: a lost datagram is allowed */
    } else if (f->nq < UDP_QUEUE_MAX) {
      struct dgram *d = xmalloc(sizeof *d + (size_t)n);
      d->next = NULL;
      d->len = (size_t)n;
      memcpy(d->data, F.buf, (size_t)n);
      *f->qtail = d;
      f->qtail = &d->next;
      f->nq++;
    }
  }
}

static void udp_flow_readable(struct udp_flow *f) {
  if (!F.buf) F.buf = xmalloc(UDP_BUF);
  for (int i = 0; i < 64; i++) {
    ssize_t n = recv(f->fd, F.buf, UDP_BUF, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue; /* nothing listened yet: keep the flow */
      return;
    }
    f->last_ms = monotonic_ms();
    (void)!sendto(f->l->fd, F.buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->peer, f->peerlen);
  }
}

/* init answered a UDP socket request; false if the cookie is not a UDP flow's. */
static bool udp_socket_reply(const struct init_msg *m, int fd) {
  for (struct listener *l = F.listeners; l; l = l->next) {
    if (l->proto != 2) continue;
    for (struct udp_flow *f = l->flows; f; f = f->next) {
      if (f->cookie != m->tag || f->fd >= 0) continue;
      if (fd < 0) {
        flow_drop(f);
        return true;
      }
      f->fd = fd;
      if (loop_add(fd, EPOLLIN, &f->w) < 0) {
        flow_drop(f);
        return true;
      }
      while (f->q) {
        struct dgram *d = f->q;
        f->q = d->next;
        (void)!send(fd, d->data, d->len, MSG_DONTWAIT);
        free(d);
      }
      f->qtail = &f->q;
      f->nq = 0;
      return true;
    }
  }
  return false;
}

static void expire_flows(void) {
  uint64_t exp;
  (void)!read(F.timerfd, &exp, sizeof exp);
  uint64_t now = monotonic_ms();
  unsigned left = 0;
  for (struct listener *l = F.listeners; l; l = l->next) {
    for (struct udp_flow **pp = &l->flows; *pp;) {
      struct udp_flow *f = *pp;
      if (now - f->last_ms >= F.idle_ms) {
        *pp = f->next;
        l->nflows--;
        flow_free(f);
      } else {
        pp = &f->next;
      }
    }
    left += l->nflows;
  }
  if (!left) timer_arm(false);
}

/* ---- TCP ------------------------------------------------------------------------------------- */

/* Splice capacity of each direction's pipe. A larger pipe lets one splice move more per wake-up
 * (fewer syscalls per byte); pages are only allocated while data sits in it. */
#define RELAY_PIPE (256 * 1024)

struct tcp_dir {
  int from, to; /* borrowed from the connection */
  int p[2];     /* -1 until a byte has to wait or the direction turns bulk */
  size_t inpipe, cap;
  bool eof, done;
  bool bulk; /* splice through the pipe from now on (see dir_pump) */
};

struct tcp_conn {
  struct tcp_conn *next;
  struct tcp_conn *ready_next; /* on the list of connections whose turn ran out (queued) */
  char *id;
  int client, inner;
  bool connected, closed, queued;
  bool client_readable; /* the client had bytes or an end before the container side connected */
  bool out[2];          /* EPOLLOUT watched: [0] client, [1] inner (only once a write had to wait) */
  unsigned again; /* directions (bit i: d[i]) that stopped at the end of their turn, not at EAGAIN */
  uint32_t v6_port;    /* host access: if 127.0.0.1 refuses, try [::1] on this port (0: no retry) */
  uint32_t host_port;  /* host access: the listener's port (its nconns counts this connection); 0 otherwise */
  struct tcp_dir d[2]; /* 0: client → container, 1: container → client */
  struct watch wc, wi;
};

/* Empty relay pipes kept for the next connections (creating and sizing two pipes per connection
 * was a visible part of the connect latency). */
#define SPARE_PIPES 64
static struct {
  int fd[2];
  size_t cap;
} spare[SPARE_PIPES];
static unsigned nspare;

static bool pipe_get(struct tcp_dir *d) {
  if (nspare) {
    nspare--;
    d->p[0] = spare[nspare].fd[0];
    d->p[1] = spare[nspare].fd[1];
    d->cap = spare[nspare].cap;
    return true;
  }
  if (pipe2(d->p, O_CLOEXEC | O_NONBLOCK) < 0) return false;
  int got = fcntl(d->p[1], F_SETPIPE_SZ, RELAY_PIPE);
  d->cap = got > 0 ? (size_t)got : 65536;
  return true;
}

/* Keeps an empty pipe for reuse, closes one that still holds bytes (or when enough are kept). */
static void pipe_put(struct tcp_dir *d) {
  if (d->p[0] < 0) return;
  if (!d->inpipe && nspare < SPARE_PIPES) {
    spare[nspare].fd[0] = d->p[0];
    spare[nspare].fd[1] = d->p[1];
    spare[nspare].cap = d->cap;
    nspare++;
  } else {
    close(d->p[0]);
    close(d->p[1]);
  }
  d->p[0] = d->p[1] = -1;
}

static struct tcp_conn *conns;

/*
 * Fairness: one direction moves at most TURN_BYTES per event, then the connection waits behind the
 * events already pending (loop_set_backlog). Without it, a sender and a reader that keep up with
 * the relay keep dir_pump looping (there is always a byte more), and every other connection, port
 * and Node request of the keeper waits for that flood to end. Four pipe fills: the extra
 * epoll_wait per MiB is lost in the cost of moving the MiB.
 */
#define TURN_BYTES (4 * RELAY_PIPE)
static struct tcp_conn *ready, **ready_tail = &ready;

static void ready_unlink(struct tcp_conn *c) {
  if (!c->queued) return;
  c->queued = false;
  for (struct tcp_conn **pp = &ready; *pp; pp = &(*pp)->ready_next)
    if (*pp == c) {
      *pp = c->ready_next;
      if (!*pp) ready_tail = pp;
      break;
    }
}

/* Closes with RST so the client sees "connection reset" at once, like a refused port. */
static void reset_close(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* Host access: the connection's listener no longer counts it (the listener may be gone already). */
static void host_conn_done(const char *id, uint32_t port) {
  for (struct listener *l = F.listeners; l; l = l->next)
    if (l->reverse && l->port == port && !strcmp(l->id, id)) {
      if (l->nconns) l->nconns--;
      return;
    }
}

static void conn_free(void *p) {
  struct tcp_conn *c = p;
  free(c->id);
  free(c);
}

/* Ends a connection: both sockets closed (reset when bytes were lost), pipes closed. */
static void conn_close(struct tcp_conn *c, bool reset) {
  if (c->closed) return;
  c->closed = true;
  if (F.nconns) F.nconns--;
  if (c->host_port) host_conn_done(c->id, c->host_port);
  ready_unlink(c);
  for (struct tcp_conn **pp = &conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  loop_del(c->client);
  loop_del(c->inner);
  if (reset) {
    reset_close(c->client);
    reset_close(c->inner);
  } else {
    close(c->client);
    close(c->inner);
  }
  for (int i = 0; i < 2; i++) pipe_put(&c->d[i]);
  /* Freed after the epoll batch: later events of it may point at it. */
  loop_forget(&c->wc);
  loop_forget(&c->wi);
  loop_defer(conn_free, c);
}

/*
 * Small messages are copied (recv into the keeper's buffer, send on), bulk is spliced:
 * - A direction starts in copy mode: one recv and one send per message, and no read until EAGAIN:
 *   a recv that returns less than it asked for emptied the socket's receive queue, and a byte that
 *   comes later wakes the edge-triggered watch again. When the source had already reported its
 *   end (EPOLLRDHUP: the FIN is in order behind every byte), that short recv also read the last
 *   byte, so the end is passed on at once, without a recv that returns 0.
 * - A full buffer (more may be waiting) or a send that cannot take everything turns the direction
 *   bulk for the rest of the connection: the leftover goes into the direction's pipe and from then
 *   on splice moves the bytes, the loop below.
 * For a connect + one byte + close (a server that greets), that is one recv, one send and the
 * shutdown, instead of three splices and the shutdown.
 */
#define COPY_BUF UDP_BUF

/* A relayed socket is watched for input and its end; EPOLLOUT only once a write to it had to wait
 * (or, for a connect not known to be done, until it is): registered at once, it is reported at
 * once, one more epoll_wait per connection for nothing. */
#define CONN_IN (EPOLLIN | EPOLLRDHUP | EPOLLET)
#define CONN_EVENTS (CONN_IN | EPOLLOUT)

/* Watches EPOLLOUT on fd from now on (its direction has bytes that had to wait); false on failure. */
static bool conn_want_out(struct tcp_conn *c, int fd) {
  int side = fd == c->inner;
  if (c->out[side]) return true;
  if (loop_mod(fd, CONN_EVENTS, side ? &c->wi : &c->wc) < 0) return false;
  c->out[side] = true;
  return true;
}

/* Copy mode, once: false with *fail if the destination is gone. */
static bool dir_copy(struct tcp_conn *c, struct tcp_dir *d, bool rdhup, bool *fail) {
  if (!F.buf) F.buf = xmalloc(COPY_BUF);
  ssize_t n = recv(d->from, F.buf, COPY_BUF, MSG_DONTWAIT);
  if (n == 0) {
    d->eof = true;
    return true;
  }
  if (n < 0) {
    if (errno == ECONNREFUSED) *fail = true; /* the container side never connected: reset the client */
    else if (errno != EAGAIN && errno != EINTR) d->eof = true; /* reset by the peer: the other side ends */
    return true;
  }
  ssize_t w = send(d->to, F.buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      *fail = true;
      return true;
    }
    w = 0;
  }
  if (w < n || n == COPY_BUF) d->bulk = true;
  if (w < n) {
    /* The rest waits in the pipe (empty, and larger than COPY_BUF) for the destination's EPOLLOUT. */
    if (!pipe_get(d)) {
      *fail = true;
      return true;
    }
    ssize_t k = write(d->p[1], F.buf + w, (size_t)(n - w));
    if (k != n - w || !conn_want_out(c, d->to)) {
      if (k > 0) d->inpipe += (size_t)k;
      *fail = true;
      return true;
    }
    d->inpipe += (size_t)k;
    return false;
  }
  if (n < COPY_BUF && rdhup) d->eof = true;
  return n == COPY_BUF; /* a full buffer: go on in bulk mode */
}

enum pump { PUMP_WAIT, PUMP_AGAIN, PUMP_FAIL };

/* Moves what can move in one direction without blocking, up to TURN_BYTES (copy mode: one
 * message, see above). Bulk mode is edge-triggered: it reads until EAGAIN unless the pipe is full,
 * and a full pipe means `to` blocked, whose EPOLLOUT edge brings us back: PUMP_WAIT. PUMP_AGAIN:
 * the turn ended with bytes still moving (no edge will come for them: the caller queues the
 * connection). PUMP_FAIL: a write failed, the peer is gone. rdhup: the source reported its end in
 * the event being handled. other_done: the other direction has ended, so the connection closes next
 * and close() sends the FIN itself (the receive queues are empty: both ends were read to EOF), no
 * shutdown needed. */
static enum pump dir_pump(struct tcp_conn *c, struct tcp_dir *d, bool rdhup, bool other_done) {
  size_t moved = 0;
  bool fail = false;
  if (!d->bulk && !d->eof && !dir_copy(c, d, rdhup, &fail)) goto out;
  if (fail) return PUMP_FAIL;
  if (!d->bulk) goto out;
  for (;;) {
    if (moved >= TURN_BYTES) return PUMP_AGAIN;
    bool progress = false;
    if (!d->eof && (d->p[0] < 0 || d->inpipe < d->cap)) {
      if (d->p[0] < 0 && !pipe_get(d)) return PUMP_FAIL;
      ssize_t n = splice(d->from, NULL, d->p[1], NULL, d->cap - d->inpipe, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n > 0) {
        d->inpipe += (size_t)n;
        progress = true;
      } else if (n == 0) {
        d->eof = true;
      } else if (errno == ECONNREFUSED) {
        return PUMP_FAIL;
      } else if (errno != EAGAIN && errno != EINTR) {
        d->eof = true; /* reset by the peer: what was read still goes out, then the other side ends */
      }
    }
    if (d->inpipe) {
      ssize_t n = splice(d->p[0], NULL, d->to, NULL, d->inpipe, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n > 0) {
        d->inpipe -= (size_t)n;
        moved += (size_t)n;
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return PUMP_FAIL;
      } else if (n < 0 && !conn_want_out(c, d->to)) {
        return PUMP_FAIL;
      }
    }
    if (!progress) break;
  }
out:
  if (fail) return PUMP_FAIL;
  if (d->eof && !d->inpipe && !d->done) {
    if (!other_done) shutdown(d->to, SHUT_WR);
    d->done = true;
  }
  return PUMP_WAIT;
}

/* Pumps the directions in mask (bit i: d[i]; rdhup: bit i set when d[i]'s source reported its end);
 * queues the connection if a turn ran out. */
static void conn_pump(struct tcp_conn *c, unsigned mask, unsigned rdhup) {
  for (int i = 0; i < 2; i++) {
    if (!(mask & (1u << i))) continue;
    enum pump r = dir_pump(c, &c->d[i], rdhup & (1u << i), c->d[1 - i].done);
    if (r == PUMP_FAIL) {
      conn_close(c, true);
      return;
    }
    if (r == PUMP_AGAIN)
      c->again |= 1u << i;
    else
      c->again &= ~(1u << i);
  }
  if (c->d[0].done && c->d[1].done) {
    conn_close(c, false);
    return;
  }
  if (c->again && !c->queued) {
    c->queued = true;
    c->ready_next = NULL;
    *ready_tail = c;
    ready_tail = &c->ready_next;
  }
}

/* The loop's backlog hook: one more turn for each connection queued so far (those that run out
 * again queue anew, behind the next batch). Returns whether any is queued. */
static bool conn_run_ready(void) {
  struct tcp_conn *turn = ready;
  ready = NULL;
  ready_tail = &ready;
  while (turn) {
    struct tcp_conn *c = turn;
    turn = c->ready_next;
    c->queued = false;
    if (c->closed) continue; /* still allocated: frees wait for the end of the batch */
    unsigned mask = c->again;
    c->again = 0;
    conn_pump(c, mask, 0);
  }
  return ready != NULL;
}


/* Host access: a socket of the keeper's own (the keeper stays in the host's network namespace)
 * connecting to the host's 127.0.0.1:port, or [::1]:port. fd or -errno. */
static int host_connect(uint32_t port, bool v6) {
  int h = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (h < 0) return -errno;
  int one = 1;
  setsockopt(h, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  tcp_loopback_cc(h);
  struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int r = v6 ? connect(h, (struct sockaddr *)&sa6, sizeof sa6) : connect(h, (struct sockaddr *)&sa4, sizeof sa4);
  if (r < 0 && errno != EINPROGRESS) {
    r = -errno;
    close(h);
    return r;
  }
  return h;
}

/*
 * Host access: the host's 127.0.0.1 refused, so try [::1] on the same port (a test server that
 * listens on "localhost" often gets ::1 only). The new socket takes the old one's place and watch:
 * epoll reports one event per fd per batch, so no stale event of the old fd can follow.
 */
static bool retry_v6(struct tcp_conn *c) {
  int h = host_connect(c->v6_port, true);
  c->v6_port = 0;
  if (h < 0) return false;
  loop_del(c->inner);
  close(c->inner);
  c->inner = c->d[0].to = c->d[1].from = h;
  return loop_add(h, CONN_EVENTS, &c->wi) == 0; /* on failure conn_close closes h */
}

static void conn_event(struct tcp_conn *c, bool inner_side, uint32_t events) {
  if (c->closed) return;
  if (!c->connected) {
    if (!inner_side) {
      /* Client bytes wait in its socket until the container side is up; noted, so that the
       * connect's completion reads the client only if there is something to read (edge-triggered:
       * a later byte brings an event of its own). */
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->client_readable = true;
      return;
    }
    if (!(events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) return;
    int err = 0;
    socklen_t el = sizeof err;
    /* Writable without error or hang-up is a completed connect: no need to ask. */
    if ((events & (EPOLLHUP | EPOLLERR)) && getsockopt(c->inner, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
    if (err && c->v6_port && retry_v6(c)) return;
    if (err) {
      conn_close(c, true); /* refused inside: the client sees a reset at once */
      return;
    }
    c->connected = true;
    conn_pump(c, (c->client_readable ? 1u : 0u) | (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP) ? 2u : 0u),
              events & EPOLLRDHUP ? 2u : 0u);
    return;
  }
  /* Only the directions this socket's readiness can unblock: readable feeds the direction it is
   * the source of, writable the one it is the destination of (errors wake both). */
  unsigned src = inner_side ? 2 : 1, dst = inner_side ? 1 : 2, mask = 0;
  if (events & (EPOLLIN | EPOLLRDHUP)) mask |= src;
  if (events & EPOLLOUT) mask |= dst;
  if (events & (EPOLLHUP | EPOLLERR)) mask = 3;
  conn_pump(c, mask, events & EPOLLRDHUP ? src : 0);
}

/* Starts relaying between an accepted client and a connecting (or connected) container socket
 * (for host access: the host socket; v6_port as in struct tcp_conn). connected: the inner socket's
 * connect went to the container's own loopback, where it is done (or refused) before connect()
 * returns, so the relay starts at once: a refusal comes as EPOLLERR and the first recv or send
 * on the socket returns ECONNREFUSED, which resets the client as before. Otherwise the client's
 * bytes wait for the connect's EPOLLOUT (host access: a refused 127.0.0.1 is tried again on
 * [::1]). */
static void conn_start(const char *id, int client, int inner, uint32_t v6_port, uint32_t host_port, bool connected) {
  struct tcp_conn *c = xcalloc(1, sizeof *c);
  c->id = xstrdup(id);
  c->v6_port = v6_port;
  c->host_port = host_port;
  c->client = client;
  c->inner = inner;
  c->d[0] = (struct tcp_dir){.from = client, .to = inner, .p = {-1, -1}};
  c->d[1] = (struct tcp_dir){.from = inner, .to = client, .p = {-1, -1}};
  c->wc = (struct watch){forward_event, c, FW_TCP_CLIENT};
  c->wi = (struct watch){forward_event, c, FW_TCP_INNER};
  /* TCP_NODELAY: the client inherits it from the listener, the container side has it from init. */
  c->next = conns;
  conns = c;
  c->connected = connected;
  c->out[1] = !connected;
  if (loop_add(client, CONN_IN, &c->wc) < 0 || loop_add(inner, connected ? CONN_IN : CONN_EVENTS, &c->wi) < 0) {
    conn_close(c, true);
    return;
  }
}

/* A socket made by init in the container's netns (unconnected): connect it to the container port. */
static int connect_inner(int fd, uint32_t cport) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cport)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) return -errno;
  return 0;
}

/* Tops up l's pool once it is half empty, with one request for all the missing sockets (init
 * answers each in its own message; tag: POOL_TAG | serial), so init wakes once per few accepts. */
static void pool_fill(struct listener *l) {
  unsigned have = l->npool + l->pool_pending;
  if (have > POOL_SIZE / 2) return;
  struct init_msg m = {.kind = IM_SOCKET_REQ, .value = (int32_t)(POOL_SIZE - have), .aux = 3, .tag = POOL_TAG | l->serial};
  if (init_send(l->ctl, &m, -1) == 0) l->pool_pending += POOL_SIZE - have;
}

/*
 * Descriptors: the keeper is the one process that creates, execs and copies for every container of
 * its Node process, and each relayed connection holds up to FDS_PER_CONN of its descriptors (two
 * sockets, a pipe per direction). Connections that would leave less than a quarter of the
 * descriptor limit (at least RESERVE_FDS) for that work are reset at once; and a container's host
 * access (the container is the client there: it can open connections without end) gets at most
 * half of what relaying may hold, so one container cannot take the relay from the others' ports.
 * The limit is read at accepts (at most every 10 ms): it is the keeper's own (inherited from Node, or set
 * by prlimit).
 */
#define FDS_PER_CONN 6
#define RESERVE_FDS 256

static unsigned conn_budget(void) {
  /* Read again once 10 ms have passed since the last reading: a getrlimit per accept was one
   * syscall in sixteen of a connection's, and a limit lowered by prlimit while nothing connects is
   * read by the first accept after it. A stream of accepts that spans the change uses the old limit
   * for 10 ms at most. */
  static unsigned budget;
  static uint64_t read_ns;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  if (read_ns && now - read_ns < 10000000u) return budget;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 0;
  rlim_t limit = rl.rlim_cur, reserve = limit / 4 < RESERVE_FDS ? RESERVE_FDS : limit / 4;
  if (limit == RLIM_INFINITY || limit > (rlim_t)UINT32_MAX) limit = UINT32_MAX;
  budget = limit > reserve ? (unsigned)((limit - reserve) / FDS_PER_CONN) : 0;
  read_ns = now;
  return budget;
}

/* One connection per event: the listener is level-triggered, so more waiting ones come back in the
 * next batch, after the other fds' events (no EAGAIN accept per connection, no port's connect flood
 * holding the loop). */
static void tcp_accept(struct listener *l) {
  struct sockaddr_storage peer;
  socklen_t pl = sizeof peer;
  int c = accept4(l->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c < 0 && (errno == EMFILE || errno == ENFILE) && F.spare_fd >= 0) {
    /* No descriptor for it: the pending connection would keep the level-triggered listener
     * readable and the loop spinning. Give up the spare one to take it and reset it. */
    close(F.spare_fd);
    c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) reset_close(c);
    F.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return;
  }
  if (c < 0) return;
  unsigned budget = conn_budget();
  if (F.nconns >= budget || (l->reverse && l->nconns >= budget / 2)) {
    reset_close(c);
    return;
  }
  F.nconns++;
  if (!l->reverse && !l->loopback && is_loopback(&peer)) tcp_loopback_cc(c);
  if (l->reverse) {
    /* Host access: nothing but l->port of the host's loopback is ever connected. */
    uint32_t retry = l->port;
    int h = host_connect(l->port, false);
    if (h == -ECONNREFUSED) {
      h = host_connect(l->port, true);
      retry = 0;
    }
    if (h < 0) {
      F.nconns--;
      reset_close(c);
      return;
    }
    l->nconns++;
    conn_start(l->id, c, h, retry, l->port, false);
    return;
  }
  if (l->npool) {
    /* Fast path: a socket init made earlier; the keeper connects it itself (no round trip). */
    int fd = l->pool[--l->npool];
    if (connect_inner(fd, l->cport) < 0) {
      F.nconns--;
      close(fd);
      reset_close(c);
    } else {
      conn_start(l->id, c, fd, 0, 0, true);
    }
    pool_fill(l);
    return;
  }
  struct pending_conn *p = xcalloc(1, sizeof *p);
  p->id = xstrdup(l->id);
  p->cookie = ++F.next_cookie & ~POOL_TAG;
  p->client = c;
  struct init_msg m = {.kind = IM_SOCKET_REQ, .value = (int32_t)l->cport, .aux = 1, .tag = p->cookie};
  if (init_send(l->ctl, &m, -1) < 0) {
    F.nconns--;
    close(c);
    free(p->id);
    free(p);
    return;
  }
  p->next = F.pending;
  F.pending = p;
}

static void forward_event(struct watch *w, uint32_t events) {
  switch (w->idx) {
  case FW_TCP_LISTENER: tcp_accept(w->obj); break;
  case FW_UDP_SOCKET: udp_socket_readable(w->obj); break;
  case FW_UDP_FLOW: udp_flow_readable(w->obj); break;
  case FW_TIMER: expire_flows(); break;
  case FW_TCP_CLIENT: conn_event(w->obj, false, events); break;
  case FW_TCP_INNER: conn_event(w->obj, true, events); break;
  }
}

/* init answered a pooled-socket request of the listener with this serial. */
static void pool_reply(const char *id, const struct init_msg *m, int fd) {
  for (struct listener *l = F.listeners; l; l = l->next) {
    if (l->serial != (m->tag & ~POOL_TAG) || strcmp(l->id, id)) continue;
    if (l->pool_pending) l->pool_pending--;
    if (fd >= 0 && l->npool < POOL_SIZE) {
      l->pool[l->npool++] = fd;
      return;
    }
    break;
  }
  if (fd >= 0) close(fd);
}

/* ---- host access ------------------------------------------------------------------------------ */

void forward_host_port(uint32_t reqid, const char *id, int ctl, const uint8_t *body, size_t len) {
  uint64_t port = 0;
  spec_get_uint(body, len, T_PORT, &port);
  if (port == 0 || port > 65535) {
    reply_error(reqid, EK_HOST_ACCESS, "host access: port must be 1..65535", EINVAL);
    return;
  }
  for (struct listener *l = F.listeners; l; l = l->next)
    if (l->reverse && l->port == port && !strcmp(l->id, id)) {
      reply_ok(reqid); /* already reachable */
      return;
    }
  struct host_req *h = xcalloc(1, sizeof *h);
  h->cookie = ++F.next_cookie & ~POOL_TAG;
  struct init_msg m = {.kind = IM_SOCKET_REQ, .value = (int32_t)port, .aux = 4, .tag = h->cookie};
  int r = init_send(ctl, &m, -1);
  if (r < 0) {
    free(h);
    reply_error(reqid, EK_HOST_ACCESS, "host access: ask init for a listening socket", -r);
    return;
  }
  h->id = xstrdup(id);
  h->reqid = reqid;
  h->port = (uint32_t)port;
  h->ctl = ctl;
  h->next = F.host_reqs;
  F.host_reqs = h;
}

/* init answered a host-access request; false if the cookie is not one. */
static bool host_reply(const char *id, const struct init_msg *m, int fd) {
  struct host_req *h = NULL;
  for (struct host_req **pp = &F.host_reqs; *pp; pp = &(*pp)->next)
    if ((*pp)->cookie == m->tag && !strcmp((*pp)->id, id)) {
      h = *pp;
      *pp = h->next;
      break;
    }
  if (!h) return false;
  if (fd < 0) {
    char stage[sizeof m->stage + 1];
    snprintf(stage, sizeof stage, "%.*s", (int)sizeof m->stage, m->stage[0] ? m->stage : "host access: listen in the container");
    reply_error(h->reqid, EK_HOST_ACCESS, stage, m->err ? m->err : EIO);
  } else {
    struct listener *l = xcalloc(1, sizeof *l);
    l->id = xstrdup(id);
    l->fd = fd;
    l->ctl = h->ctl;
    l->port = h->port;
    l->proto = 1;
    l->reverse = true;
    l->w = (struct watch){forward_event, l, FW_TCP_LISTENER};
    int r = loop_add(fd, EPOLLIN, &l->w);
    if (r < 0) {
      reply_error(h->reqid, EK_HOST_ACCESS, "host access: watch the listening socket", -r);
      close(fd);
      free(l->id);
      free(l);
    } else {
      l->next = F.listeners;
      F.listeners = l;
      reply_ok(h->reqid);
    }
  }
  free(h->id);
  free(h);
  return true;
}

void forward_socket_reply(const char *id, const struct init_msg *m, int fd) {
  if (m->tag & POOL_TAG) {
    pool_reply(id, m, fd);
    return;
  }
  if (host_reply(id, m, fd)) return;
  struct pending_conn *p = NULL;
  for (struct pending_conn **pp = &F.pending; *pp; pp = &(*pp)->next)
    if ((*pp)->cookie == m->tag) {
      p = *pp;
      *pp = p->next;
      break;
    }
  if (!p) {
    if (udp_socket_reply(m, fd)) return;
    if (fd >= 0) close(fd);
    return;
  }
  if (fd < 0) {
    F.nconns--;
    reset_close(p->client);
  } else {
    conn_start(id, p->client, fd, 0, 0, false);
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
  for (struct host_req **pp = &F.host_reqs; *pp;) {
    if (strcmp((*pp)->id, id)) {
      pp = &(*pp)->next;
      continue;
    }
    struct host_req *h = *pp;
    *pp = h->next;
    reply_error(h->reqid, EK_HOST_ACCESS, "host access: the container exited", ESRCH);
    free(h->id);
    free(h);
  }
  for (struct pending_conn **pp = &F.pending; *pp;) {
    if (strcmp((*pp)->id, id)) {
      pp = &(*pp)->next;
      continue;
    }
    struct pending_conn *p = *pp;
    *pp = p->next;
    F.nconns--;
    reset_close(p->client);
    free(p->id);
    free(p);
  }
  for (struct tcp_conn *c = conns, *next; c; c = next) {
    next = c->next;
    if (!strcmp(c->id, id)) conn_close(c, false);
  }
}

void forward_child_release(void) {
  free(F.buf);
  F.buf = NULL;
  F.spare_fd = -1; /* the caller closed or replaced every fd it does not keep */
}

void forward_shutdown(void) {
  while (conns) conn_close(conns, false);
}

#include "reply.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#define OUT_HIGH (8u << 20)
#define OUT_LOW (1u << 20)

static struct {
  bool async, broken, armed, congested;
  uint8_t *q;
  size_t off, len, cap;
  struct watch w;
  void (*drain)(void);
} O;

static void out_fail(int err) {
  /* Node is gone (EPIPE) or the pipe broke: nothing can be told any more; stdin EOF ends us. */
  if (err != EPIPE) logmsg("write to node: %s", strerror(err));
  O.broken = true;
  O.off = O.len = 0;
}

static void arm(bool on) {
  if (on == O.armed) return;
  if (loop_mod(1, on ? EPOLLOUT : 0, &O.w) == 0) O.armed = on;
}

static void flush(void) {
  while (O.off < O.len) {
    ssize_t n = write(1, O.q + O.off, O.len - O.off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      out_fail(errno);
      break;
    }
    O.off += (size_t)n;
  }
  if (O.off == O.len) {
    O.off = O.len = 0;
    /* A big burst (GET of a large tree) grew the queue: give the memory back. */
    if (O.cap > (4u << 20)) {
      free(O.q);
      O.q = NULL;
      O.cap = 0;
    }
  }
  arm(O.off < O.len);
  if (O.congested && O.len - O.off < OUT_LOW) {
    O.congested = false;
    if (O.drain) O.drain();
  }
}

static void writable(struct watch *w, uint32_t events) {
  (void)w;
  if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT)) {
    /* Node closed its end: epoll would report it on every wait (it ignores the event mask for
     * errors), so stop watching; stdin's EOF ends the keeper. */
    loop_del(1);
    out_fail(EPIPE);
    return;
  }
  flush();
}

int out_init(void) {
  O.w = (struct watch){writable, NULL, 0};
  int r = set_nonblock(1, true);
  if (r < 0) return r;
  /* Registered with no events: EPOLLOUT is armed only while bytes wait. */
  if ((r = loop_add(1, 0, &O.w)) < 0) return r;
  O.async = true;
  return 0;
}

void out_write(const void *p, size_t n) {
  if (O.broken) return;
  if (!O.async) {
    int r = write_all(1, p, n);
    if (r < 0) out_fail(-r);
    return;
  }
  if (O.off == O.len) { /* nothing waits: try the pipe first, queue only the rest */
    while (n) {
      ssize_t w = write(1, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) break;
      if (w < 0) {
        out_fail(errno);
        return;
      }
      p = (const uint8_t *)p + w;
      n -= (size_t)w;
    }
    if (!n) return;
  }
  if (O.off && O.cap - O.len < n) {
    memmove(O.q, O.q + O.off, O.len - O.off);
    O.len -= O.off;
    O.off = 0;
  }
  if (O.cap - O.len < n) {
    size_t cap = O.cap ? O.cap : 65536;
    while (cap - O.len < n) cap *= 2;
    O.q = xrealloc(O.q, cap);
    O.cap = cap;
  }
  memcpy(O.q + O.len, p, n);
  O.len += n;
  if (O.len - O.off > OUT_HIGH) O.congested = true;
  arm(true);
}

bool out_congested(void) { return O.congested; }

void out_set_drain_hook(void (*fn)(void)) { O.drain = fn; }

void out_flush_sync(void) {
  if (O.broken || O.off == O.len) return;
  set_nonblock(1, false);
  int r = write_all(1, O.q + O.off, O.len - O.off);
  if (r < 0) out_fail(-r);
  O.off = O.len = 0;
}

void send_frame(sw_buf *b) {
  buf_finish(b);
  out_write(b->data, b->len);
}

void build_error(sw_buf *b, uint32_t reqid, int kind, const char *stage, int errnum) {
  buf_begin(b, FR_ERROR, reqid);
  buf_put_u32(b, T_KIND, (uint32_t)kind);
  buf_put_str(b, T_STAGE, stage);
  buf_put_u32(b, T_ERRNO, (uint32_t)errnum);
  buf_put_str(b, T_MESSAGE, strerror(errnum));
}

void reply_ok(uint32_t reqid) {
  sw_buf b = {0};
  buf_begin(&b, FR_OK, reqid);
  send_frame(&b);
  buf_free(&b);
}

void reply_error(uint32_t reqid, int kind, const char *stage, int errnum) {
  sw_buf b = {0};
  build_error(&b, reqid, kind, stage, errnum);
  send_frame(&b);
  buf_free(&b);
}

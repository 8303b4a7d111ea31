#include "worker.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "loop.h"
#include "process.h"
#include "reply.h"

struct chunk {
  struct chunk *next;
  size_t len, off;
  uint8_t data[];
};

struct worker {
  struct worker *next;
  pid_t pid;
  uint32_t reqid;
  int fd;           /* frames from the worker */
  int in;           /* its fd 0, or -1 */
  sw_reader rd;
  struct watch w, w_in;
  struct chunk *q, **qtail;
  bool in_eof;      /* Node sent the last chunk: close `in` once the queue is written */
  bool paused;      /* output to Node congested: not reading fd */
  bool finished;    /* a final OK/ERROR came (or was made up) */
  uint8_t *final;   /* that frame, held back until the worker is gone */
  size_t final_len;
  bool eof, reaped;
};

static struct worker *workers;
static const int *spawn_ns; /* worker_spawn_in(): the container's namespaces for the child */
static int default_kind; /* in a worker: the kind of its failures that do not name one */

void worker_send(int out, sw_buf *b) {
  buf_finish(b);
  if (write_all(out, b->data, b->len) < 0) _exit(1);
}

void worker_fail(int out, uint32_t reqid, const sw_error *e) {
  sw_buf b = {0};
  build_error(&b, reqid, e->kind ? e->kind : default_kind, e->stage, e->errnum);
  worker_send(out, &b);
  _exit(1);
}

void worker_ok(int out, uint32_t reqid) {
  sw_buf b = {0};
  buf_begin(&b, FR_OK, reqid);
  worker_send(out, &b);
  _exit(0);
}

/* In a freshly forked child: fd 0 is `in` (or /dev/null), 1 is /dev/null (a long-lived child must
 * never hold Node's pipes open), 2 stays, `keep` moves to 3, `extra` (if >= 0) to 4 and the
 * namespaces of spawn_ns (if set) to WORKER_NS_FD.. (-1 stays -1: fd closed). */
static int child_fd_hygiene(int keep, int extra, int in) {
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0) return -1;
  int hi = fcntl(keep, F_DUPFD_CLOEXEC, 1000);
  int hx = extra >= 0 ? fcntl(extra, F_DUPFD_CLOEXEC, 1000) : -1;
  int hin = in >= 0 ? fcntl(in, F_DUPFD_CLOEXEC, 1000) : -1;
  int hns[SW_NS_COUNT];
  for (int i = 0; i < SW_NS_COUNT; i++) {
    hns[i] = spawn_ns && spawn_ns[i] >= 0 ? fcntl(spawn_ns[i], F_DUPFD_CLOEXEC, 1000) : -1;
    if (spawn_ns && spawn_ns[i] >= 0 && hns[i] < 0) return -1;
  }
  if (hi < 0 || (extra >= 0 && hx < 0) || (in >= 0 && hin < 0)) return -1;
  /* fd 0 without O_CLOEXEC: exec'd processes (exec's stdin) inherit it through dup2 anyway. */
  if (dup2(hin >= 0 ? hin : nul, 0) < 0 || dup2(nul, 1) < 0) return -1;
  if (dup3(hi, 3, O_CLOEXEC) < 0) return -1;
  if (hx >= 0 && dup3(hx, WORKER_PASS_FD, O_CLOEXEC) < 0) return -1;
  if (hx < 0) close(WORKER_PASS_FD);
  for (int i = 0; i < SW_NS_COUNT; i++) {
    if (hns[i] >= 0 && dup3(hns[i], WORKER_NS_FD + i, O_CLOEXEC) < 0) return -1;
    if (hns[i] < 0) close(WORKER_NS_FD + i);
  }
  syscall(SYS_close_range, WORKER_NS_FD + SW_NS_COUNT, ~0U, 0);
  return 3;
}

static void input_drop(struct worker *w) {
  loop_del_close(&w->in);
  while (w->q) {
    struct chunk *c = w->q;
    w->q = c->next;
    free(c);
  }
  w->qtail = &w->q;
}

static void worker_free(void *p) {
  struct worker *w = p;
  reader_free(&w->rd);
  free(w->final);
  free(w);
}

/* The answer goes out only once the worker is reaped and its pipe closed: when Node hears that a
 * request is done, nothing of it is left in the keeper (no process, no fd). */
static void worker_maybe_free(struct worker *w) {
  if (!w->eof || !w->reaped) return;
  if (w->final)
    out_write(w->final, w->final_len);
  else if (!w->finished)
    reply_error(w->reqid, EK_WORKER, "worker exited without an answer", EIO);
  for (struct worker **pp = &workers; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  input_drop(w);
  loop_forget(&w->w);
  loop_forget(&w->w_in);
  loop_defer(worker_free, w);
}

static void send_ack(uint32_t reqid) {
  sw_buf b = {0};
  buf_begin(&b, FR_DATA_ACK, reqid);
  send_frame(&b);
  buf_free(&b);
}

/* Writes queued input without blocking; acknowledges each chunk once it is in the pipe. */
static void input_pump(struct worker *w) {
  while (w->in >= 0 && w->q) {
    struct chunk *c = w->q;
    while (c->off < c->len) {
      ssize_t n = write(w->in, c->data + c->off, c->len - c->off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        loop_mod(w->in, EPOLLOUT, &w->w_in);
        return;
      }
      if (n < 0) {
        /* The reader is gone (EPIPE: the process exited or closed its stdin): what is left is
         * dropped, and acknowledged so Node finishes sending; the request's answer says the rest. */
        for (struct chunk *x = w->q; x; x = x->next) send_ack(w->reqid);
        input_drop(w);
        return;
      }
      c->off += (size_t)n;
    }
    w->q = c->next;
    if (!w->q) w->qtail = &w->q;
    free(c);
    send_ack(w->reqid);
  }
  if (w->in >= 0) {
    if (w->in_eof && !w->q)
      loop_del_close(&w->in);
    else
      loop_mod(w->in, 0, &w->w_in);
  }
}

static void input_writable(struct watch *wt, uint32_t events) {
  struct worker *w = wt->obj;
  if ((events & (EPOLLERR | EPOLLHUP)) && !w->q) {
    /* The reader closed its end while nothing waits (the process closed stdin or exited): epoll
     * reports that on every wait whatever the mask, so stop watching; later DATA is dropped and
     * acknowledged (worker_input sees in < 0). */
    input_drop(w);
    return;
  }
  input_pump(w); /* with data queued, the write fails with EPIPE and drops it */
}

int worker_input(uint32_t reqid, const uint8_t *data, size_t len, bool eof) {
  struct worker *w = workers;
  while (w && w->reqid != reqid) w = w->next;
  if (!w || w->finished) return -ESRCH;
  if (w->in < 0) { /* input already closed or never taken: keep Node's window moving */
    if (len) send_ack(reqid);
    return 0;
  }
  if (len) {
    struct chunk *c = xmalloc(sizeof *c + len);
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, data, len);
    *w->qtail = c;
    w->qtail = &c->next;
  }
  if (eof) w->in_eof = true;
  input_pump(w);
  return 0;
}

void worker_cancel(uint32_t reqid) {
  for (struct worker *w = workers; w; w = w->next)
    if (w->reqid == reqid && !w->reaped) kill(w->pid, SIGUSR1);
}

static void worker_readable(struct watch *wt, uint32_t events);

static void resume_all(void) {
  for (struct worker *w = workers; w; w = w->next)
    if (w->paused && w->fd >= 0) {
      w->paused = false;
      if (loop_add(w->fd, EPOLLIN, &w->w) < 0) w->paused = true;
    }
}

static void worker_readable(struct watch *wt, uint32_t events) {
  (void)events;
  struct worker *w = wt->obj;
  while (w->fd >= 0) {
    if (out_congested()) {
      /* Node reads slower than workers write: stop reading (the worker blocks on its pipe) until
       * the output queue drains. Removed, not just masked: a masked pipe still reports HUP. */
      loop_del(w->fd);
      w->paused = true;
      out_set_drain_hook(resume_all);
      return;
    }
    long n = reader_fill(&w->rd, w->fd);
    if (n == -EAGAIN || n == -EINTR) break;
    sw_frame_view f;
    int r;
    while ((r = reader_next(&w->rd, &f)) > 0) {
      /* Relay verbatim: the worker already used the request's id. */
      const uint8_t *start = f.body - SW_HEADER;
      size_t flen = SW_HEADER + f.body_len;
      if ((f.type == FR_OK || f.type == FR_ERROR) && !w->finished) {
        w->finished = true;
        w->final = xmalloc(flen);
        memcpy(w->final, start, flen);
        w->final_len = flen;
      } else if (!w->finished) {
        out_write(start, flen);
      }
    }
    if (n <= 0 || r < 0) {
      if (r < 0 && !w->finished) {
        /* Not a frame stream: the worker is broken. Its request fails, nothing else. */
        kill(w->pid, SIGKILL);
        reply_error(w->reqid, EK_WORKER, "worker sent a malformed frame", EBADMSG);
        w->finished = true;
      }
      loop_del_close(&w->fd);
      w->eof = true;
      worker_maybe_free(w);
      return;
    }
  }
}

int worker_spawn_in(const int *ns, uint32_t reqid, int kind, worker_fn fn, void *arg, int pass_fd, bool input) {
  spawn_ns = ns;
  int r = worker_spawn(reqid, kind, fn, arg, pass_fd, input);
  spawn_ns = NULL;
  return r;
}

int worker_spawn(uint32_t reqid, int kind, worker_fn fn, void *arg, int pass_fd, bool input) {
  int p[2], ip[2] = {-1, -1};
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  if (input && pipe2(ip, O_CLOEXEC) < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return -e;
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    if (input) close(ip[0]), close(ip[1]);
    return -e;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    process_reset_signals();
    default_kind = kind;
    int out = child_fd_hygiene(p[1], pass_fd, ip[0]);
    if (out < 0) _exit(1);
    fn(out, reqid, arg);
    _exit(0);
  }
  close(p[1]);
  if (input) close(ip[0]);
  struct worker *w = xcalloc(1, sizeof *w);
  w->pid = pid;
  w->reqid = reqid;
  w->fd = p[0];
  w->in = ip[1];
  w->qtail = &w->q;
  w->w = (struct watch){worker_readable, w, 0};
  w->w_in = (struct watch){input_writable, w, 0};
  set_nonblock(w->fd, true);
  int r = loop_add(w->fd, EPOLLIN, &w->w);
  if (r == 0 && w->in >= 0) {
    set_nonblock(w->in, true);
    r = loop_add(w->in, 0, &w->w_in);
  }
  if (r < 0) {
    /* The worker runs but cannot be heard: stop it; the reaper frees nothing (not listed). */
    kill(pid, SIGKILL);
    TEMP_FAILURE_RETRY(waitpid(pid, NULL, 0));
    loop_del_close(&w->fd);
    loop_del_close(&w->in);
    free(w);
    return r;
  }
  w->next = workers;
  workers = w;
  return 0;
}

bool worker_reaped(pid_t pid, int status) {
  (void)status;
  for (struct worker *w = workers; w; w = w->next)
    if (w->pid == pid && !w->reaped) {
      w->reaped = true;
      /* Its input has no reader any more: drop it (a stuck write would never finish). */
      input_drop(w);
      if (w->paused && w->fd >= 0) {
        /* Still unread frames: read them when Node catches up; the free waits for EOF. */
        return true;
      }
      worker_maybe_free(w);
      return true;
    }
  return false;
}

void worker_kill_all(void) {
  for (struct worker *w = workers; w; w = w->next)
    if (!w->reaped) kill(w->pid, SIGKILL);
}

void worker_wait_all(void) {
  for (struct worker *w = workers; w; w = w->next)
    if (!w->reaped) TEMP_FAILURE_RETRY(waitpid(w->pid, NULL, 0));
}

void worker_child_release(void) {
  for (struct worker *w = workers; w; w = w->next) reader_free(&w->rd);
}

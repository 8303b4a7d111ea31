#include "outbound.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "loop.h"
#include "process.h"
#include "protocol.h"
#include "reply.h"
#include "spec.h"
#include "util.h"

#define TAIL 2048
#define MAX_ARGS 64

struct helper {
  struct helper *next;
  char *id;   /* the container's */
  char *name; /* argv[0]'s last component, for log lines */
  pid_t pid;  /* 0 once reaped: a reaped pid may be reused, it is never signalled again */
  int status;
  uint32_t start_req, stop_req; /* 0 = answered / none */
  bool spare;                   /* a pool spare's (netpool.h): no request; the pool hears of its ready byte and end */
  bool ready_seen;              /* its ready byte came */
  int ready, out, exit_w;       /* keeper ends; -1 when closed */
  struct watch w_ready, w_out;
  char tail[TAIL];
  size_t tail_len;
  char line[256]; /* the current output line, for the log */
  size_t line_len;
};

static struct helper *helpers;
static struct outbound_events hooks; /* all NULL until outbound_set_events */

void outbound_set_events(const struct outbound_events *ev) {
  hooks = *ev;
}

static void tail_add(struct helper *h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n' || h->line_len == sizeof h->line - 1) {
      h->line[h->line_len] = 0;
      if (h->line_len) logmsg("%s %d: %s", h->name, (int)h->pid, h->line);
      h->line_len = 0;
      if (p[i] == '\n') continue;
    }
    h->line[h->line_len++] = p[i];
  }
  if (n >= TAIL) {
    memcpy(h->tail, p + n - TAIL, TAIL);
    h->tail_len = TAIL;
    return;
  }
  if (h->tail_len + n > TAIL) {
    size_t drop = h->tail_len + n - TAIL;
    memmove(h->tail, h->tail + drop, h->tail_len - drop);
    h->tail_len -= drop;
  }
  memcpy(h->tail + h->tail_len, p, n);
  h->tail_len += n;
}

static void drain_output(struct helper *h) {
  char buf[4096];
  while (h->out >= 0) {
    ssize_t n = read(h->out, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      loop_del_close(&h->out);
      return;
    }
    tail_add(h, buf, (size_t)n);
  }
}

static void helper_release(void *p) {
  struct helper *h = p;
  free(h->id);
  free(h->name);
  free(h);
}

/* Unlinks h once nothing of it is left: reaped, and no request of it unanswered. */
static void helper_maybe_free(struct helper *h) {
  if (h->pid > 0 || h->start_req || h->stop_req) return;
  for (struct helper **pp = &helpers; *pp; pp = &(*pp)->next)
    if (*pp == h) {
      *pp = h->next;
      break;
    }
  loop_del_close(&h->ready);
  loop_del_close(&h->out);
  if (h->exit_w >= 0) close(h->exit_w), h->exit_w = -1;
  loop_forget(&h->w_ready);
  loop_forget(&h->w_out);
  loop_defer(helper_release, h);
}

/* The start request fails: the helper exited (status known), closed its ready pipe, or was stopped. */
static void fail_start(struct helper *h, const char *why, int errnum) {
  if (!h->start_req) return;
  drain_output(h);
  char stage[160];
  snprintf(stage, sizeof stage, "%s %s before it was ready", h->name, why);
  sw_buf b = {0};
  build_error(&b, h->start_req, EK_NETWORK, stage, errnum);
  if (h->pid == 0) buf_put_u32(&b, T_STATUS, (uint32_t)h->status);
  if (h->tail_len) buf_put(&b, T_DATA, h->tail, (uint32_t)h->tail_len);
  send_frame(&b);
  buf_free(&b);
  h->start_req = 0;
}

static void helper_kill(struct helper *h) {
  if (h->pid > 0) kill(h->pid, SIGKILL);
  /* Its exit pipe hangs up too: a helper that lost its SIGKILL race with exec still goes. */
  if (h->exit_w >= 0) close(h->exit_w), h->exit_w = -1;
}

static void ready_readable(struct watch *w, uint32_t events) {
  (void)events;
  struct helper *h = w->obj;
  char c;
  ssize_t n = read(h->ready, &c, 1);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  loop_del_close(&h->ready);
  if (n == 1 && h->pid > 0) h->ready_seen = true;
  if (n == 1 && h->spare && h->pid > 0) {
    if (hooks.spare_ready) hooks.spare_ready(h->pid);
    return;
  }
  if (n == 1 && h->start_req && h->pid > 0) {
    if (hooks.helper_ready) hooks.helper_ready(h->id);
    sw_buf b = {0};
    buf_begin(&b, FR_OK, h->start_req);
    buf_put_u32(&b, T_PID, (uint32_t)h->pid);
    send_frame(&b);
    buf_free(&b);
    h->start_req = 0;
    return;
  }
  /* EOF without the byte: it is exiting, and its reaping answers with how it exited. (One that
   * closed the pipe and lives on is stopped by Node's timeout.) */
}

static void out_readable(struct watch *w, uint32_t events) {
  (void)events;
  drain_output(w->obj);
}

NORETURN static void helper_child(pid_t keeper, char **argv, int ready_w, int exit_r, int out_w, int extra) {
  /* Dies with the keeper even if it ignores its exit pipe (kept across exec: not setuid). */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != keeper) _exit(1);
  /* The keeper's blocked signals and ignored SIGPIPE would be inherited through exec. */
  process_reset_signals();
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  int hr = fcntl(ready_w, F_DUPFD_CLOEXEC, 1000), he = fcntl(exit_r, F_DUPFD_CLOEXEC, 1000), ho = fcntl(out_w, F_DUPFD_CLOEXEC, 1000);
  int hx = extra >= 0 ? fcntl(extra, F_DUPFD_CLOEXEC, 1000) : -1;
  if (nul < 0 || hr < 0 || he < 0 || ho < 0 || (extra >= 0 && hx < 0) || dup2(nul, 0) < 0 || dup2(ho, 1) < 0 ||
      dup2(ho, 2) < 0 || dup2(hr, 3) < 0 || dup2(he, 4) < 0 || (hx >= 0 && dup2(hx, 5) < 0))
    _exit(126);
  /* Nothing else of the keeper: not Node's pipes, not other containers' sockets or namespaces. */
  syscall(SYS_close_range, hx >= 0 ? 6 : 5, ~0U, 0);
  execv(argv[0], argv);
  dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Forks and execs argv (argv[0] absolute) for container `id` (or a spare: `spare`), `extra` at fd 5
 * when >= 0. Returns the helper or NULL with *err = errno. */
static struct helper *helper_spawn(const char *id, char **argv, int extra, bool spare, int *err) {
  int pr[2] = {-1, -1}, pe[2] = {-1, -1}, po[2] = {-1, -1};
  struct helper *h = NULL;
  if (pipe2(pr, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0) {
    *err = errno;
    goto out;
  }
  pid_t keeper = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *err = errno;
    goto out;
  }
  if (pid == 0) helper_child(keeper, argv, pr[1], pe[0], po[1], extra);
  h = xcalloc(1, sizeof *h);
  const char *slash = strrchr(argv[0], '/');
  h->id = xstrdup(id);
  h->name = xstrdup(slash ? slash + 1 : argv[0]);
  h->pid = pid;
  h->spare = spare;
  h->ready = pr[0];
  h->exit_w = pe[1];
  h->out = po[0];
  pr[0] = pe[1] = po[0] = -1;
  h->w_ready = (struct watch){ready_readable, h, 0};
  h->w_out = (struct watch){out_readable, h, 0};
  set_nonblock(h->ready, true);
  set_nonblock(h->out, true);
  h->next = helpers;
  helpers = h;
out:
  for (int i = 0; i < 2; i++) {
    if (pr[i] >= 0) close(pr[i]);
    if (pe[i] >= 0) close(pe[i]);
    if (po[i] >= 0) close(po[i]);
  }
  return h;
}

/* Watches h's pipes: -errno when it cannot be (then it is killed: answered, or the pool told, when reaped). */
static int helper_watch(struct helper *h) {
  int r;
  if ((r = loop_add(h->ready, EPOLLIN, &h->w_ready)) < 0 || (r = loop_add(h->out, EPOLLIN, &h->w_out)) < 0) {
    helper_kill(h);
    return r;
  }
  return 0;
}

void outbound_start(uint32_t reqid, const char *id, pid_t init_pid, const uint8_t *body, size_t len) {
  char *argv[MAX_ARGS + 1] = {0};
  size_t argc = 0;
  sw_tlv_iter it;
  sw_tlv t;
  int r;
  tlv_iter_init(&it, body, len);
  while ((r = tlv_next(&it, &t)) > 0) {
    if (t.tag != T_ARG && t.tag != T_ARG_PID) continue;
    if (argc == MAX_ARGS || !(argv[argc] = t.tag == T_ARG_PID ? xasprintf("%d", (int)init_pid) : tlv_strdup(&t))) {
      r = -EINVAL;
      break;
    }
    argc++;
  }
  if (r < 0 || argc == 0 || argv[0][0] != '/') {
    reply_error(reqid, EK_BAD_REQUEST, "outbound: an absolute helper path and at most 64 arguments", EINVAL);
    goto out;
  }
  int err = 0;
  struct helper *h = helper_spawn(id, argv, -1, false, &err);
  if (!h) {
    reply_error(reqid, EK_RESOURCES, "outbound: fork", err);
    goto out;
  }
  h->start_req = reqid;
  /* Unwatched, it could never be answered: it goes now, answered when reaped. */
  if ((r = helper_watch(h)) < 0) fail_start(h, "could not be watched", -r);
out:
  for (size_t i = 0; i < argc; i++) free(argv[i]);
}

pid_t outbound_start_spare(char **argv, int netns_fd) {
  int err = 0;
  struct helper *h = helper_spawn("", argv, netns_fd, true, &err);
  if (!h) return -err;
  int r = helper_watch(h);
  return r < 0 ? r : h->pid;
}

static struct helper *find_pid(pid_t pid) {
  for (struct helper *h = helpers; h; h = h->next)
    if (h->pid == pid && pid > 0) return h;
  return NULL;
}

bool outbound_adopt(pid_t pid, const char *id) {
  struct helper *h = find_pid(pid);
  if (!h || !h->spare || !h->ready_seen) return false;
  free(h->id);
  h->id = xstrdup(id);
  h->spare = false;
  return true;
}

static struct helper *ready_helper(const char *id) {
  for (struct helper *h = helpers; h; h = h->next)
    if (!strcmp(h->id, id) && h->pid > 0 && h->ready_seen) return h;
  return NULL;
}

bool outbound_is_ready(const char *id) {
  return ready_helper(id) != NULL;
}

bool outbound_live(const char *id) {
  for (struct helper *h = helpers; h; h = h->next)
    if (!strcmp(h->id, id) && h->pid > 0) return true;
  return false;
}

void outbound_answer_adopted(uint32_t reqid, const char *id) {
  struct helper *h = ready_helper(id);
  if (h) {
    sw_buf b = {0};
    buf_begin(&b, FR_OK, reqid);
    buf_put_u32(&b, T_PID, (uint32_t)h->pid);
    send_frame(&b);
    buf_free(&b);
    return;
  }
  reply_error(reqid, EK_NETWORK, "outbound: the container's prepared network helper exited", ECHILD);
}

void outbound_kill_pid(pid_t pid) {
  struct helper *h = find_pid(pid);
  if (h) helper_kill(h);
}

void outbound_stop(uint32_t reqid, const char *id) {
  struct helper *last = NULL;
  for (struct helper *h = helpers; h; h = h->next) {
    if (strcmp(h->id, id) || h->stop_req) continue;
    fail_start(h, "was stopped", ECANCELED);
    helper_kill(h);
    if (h->pid > 0) last = h;
  }
  /* Answered once the newest live one is reaped (a container has one; an older one, a failed try,
   * is dead or dies of the same SIGKILL). */
  if (last)
    last->stop_req = reqid;
  else
    reply_ok(reqid);
  for (struct helper *h = helpers, *next; h; h = next) {
    next = h->next;
    if (!strcmp(h->id, id)) helper_maybe_free(h);
  }
}

void outbound_container_gone(const char *id) {
  for (struct helper *h = helpers; h; h = h->next) {
    if (strcmp(h->id, id)) continue;
    fail_start(h, "lost its container", ESRCH);
    helper_kill(h);
  }
}

bool outbound_reaped(pid_t pid, int status) {
  for (struct helper *h = helpers; h; h = h->next) {
    if (h->pid != pid) continue;
    h->pid = 0;
    h->status = status;
    drain_output(h);
    /* Its ready byte may wait unread in the same batch as its SIGCHLD: it exited anyway. */
    char st[48];
    if (WIFEXITED(status))
      snprintf(st, sizeof st, "exited (code %d)", WEXITSTATUS(status));
    else
      snprintf(st, sizeof st, "exited (signal %d)", WTERMSIG(status));
    fail_start(h, st, ECHILD);
    bool spare = h->spare;
    if (spare) {
      h->spare = false;
      logmsg("%s %d (a prepared network namespace's) %s", h->name, (int)pid, st);
      if (hooks.spare_gone) hooks.spare_gone(pid);
    }
    if (h->stop_req) {
      reply_ok(h->stop_req);
      h->stop_req = 0;
    }
    helper_maybe_free(h); /* freed at the end of the batch: h->id stays valid for the hook */
    if (!spare && hooks.helper_gone) hooks.helper_gone(h->id);
    return true;
  }
  return false;
}

void outbound_kill_all(void) {
  for (struct helper *h = helpers; h; h = h->next) helper_kill(h);
}

#include "netpool.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "init.h"
#include "loop.h"
#include "netlink.h"
#include "outbound.h"
#include "protocol.h"
#include "util.h"

#define POOL_KEYS 4
#define POOL_MAX_ARGS 64
#define POOL_MAX_FAILS 2
#define SPARE_TIMEOUT_MS 10000
#define NETNS_FD_PATH "/proc/self/fd/5" /* outbound.c puts the spare's namespace fd there */

enum pstate { P_EMPTY, P_MAKING, P_STARTING, P_READY };

struct pool_key {
  char *argv[POOL_MAX_ARGS + 1]; /* NULL-terminated; NETNS_FD_PATH where Node put a POOL_ARG_NETNS */
  char *tap;                     /* the persistent tap to make, or NULL */
  enum pstate state;
  pid_t maker;  /* the child making the namespace, until reaped */
  int sock;     /* its answer, or -1 */
  int nsfd;     /* the spare's namespace (P_STARTING, P_READY), or -1 */
  pid_t helper; /* its slirp4netns (P_STARTING, P_READY) */
  unsigned fails;
  bool works;     /* a container's own helper with these options got ready: spares are made from then on */
  char *probe_id; /* the container whose OUTBOUND would show that, until one did */
  uint64_t since; /* when the spare's making began (ms, monotonic) */
  struct watch w;
};

static struct pool_key keys[POOL_KEYS];
static unsigned nkeys;

static void argv_free(char **argv) {
  for (char **p = argv; *p; p++) free(*p), *p = NULL;
}

/* The POOL_ARGs of a CREATE body into argv (NULL-terminated), TAP into *tap: false when there are none
 * (or too many, or a bad one). */
static bool parse_key(const uint8_t *body, size_t len, char **argv, char **tap) {
  sw_tlv_iter it;
  sw_tlv t;
  size_t argc = 0;
  int r;
  *tap = NULL;
  tlv_iter_init(&it, body, len);
  while ((r = tlv_next(&it, &t)) > 0) {
    if (t.tag == T_TAP) {
      free(*tap);
      *tap = tlv_strdup(&t);
      continue;
    }
    if (t.tag != T_POOL_ARG && t.tag != T_POOL_ARG_NETNS) continue;
    if (argc == POOL_MAX_ARGS || !(argv[argc] = t.tag == T_POOL_ARG_NETNS ? xstrdup(NETNS_FD_PATH) : tlv_strdup(&t))) {
      r = -1;
      break;
    }
    argc++;
  }
  argv[argc] = NULL;
  if (r < 0 || argc == 0 || argv[0][0] != '/') {
    argv_free(argv);
    free(*tap);
    *tap = NULL;
    return false;
  }
  return true;
}

static bool same_key(const struct pool_key *k, char **argv, const char *tap) {
  if (!k->tap != !tap || (tap && strcmp(k->tap, tap))) return false;
  size_t i = 0;
  for (; argv[i] && k->argv[i]; i++)
    if (strcmp(argv[i], k->argv[i])) return false;
  return !argv[i] && !k->argv[i];
}

int netpool_take(const uint8_t *body, size_t len, const char *id, pid_t *helper) {
  char *argv[POOL_MAX_ARGS + 1];
  char *tap;
  if (!parse_key(body, len, argv, &tap)) return -1;
  int fd = -1;
  for (unsigned i = 0; i < nkeys; i++) {
    struct pool_key *k = &keys[i];
    if (!same_key(k, argv, tap)) continue;
    if (k->state == P_READY) {
      fd = k->nsfd;
      *helper = k->helper;
      k->nsfd = -1;
      k->helper = 0;
      k->state = P_EMPTY;
    } else if (!k->works) {
      free(k->probe_id);
      k->probe_id = xstrdup(id);
    }
    goto out;
  }
  if (nkeys < POOL_KEYS) { /* remembered: the next refill makes its spare */
    struct pool_key *k = &keys[nkeys++];
    memset(k, 0, sizeof *k);
    memcpy(k->argv, argv, sizeof argv);
    k->tap = tap;
    k->sock = k->nsfd = -1;
    k->probe_id = xstrdup(id);
    return -1;
  }
out:
  argv_free(argv);
  free(tap);
  return fd;
}

/* ---- making a spare -------------------------------------------------------------------------- */

static int make_tap(int nl, void *tap, sw_error *e) {
  (void)nl;
  (void)e;
  init_make_tap(tap);
  return 0;
}

NORETURN static void maker_child(int sock, const char *tap) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  prctl(PR_SET_NAME, "slipway-netns", 0, 0, 0); /* told apart from the keeper's workers in ps */
  /* Nothing of the keeper but the answer socket: Node's pipes must not wait for this child. */
  int s = fcntl(sock, F_DUPFD_CLOEXEC, 3);
  if (s < 0 || dup3(s, 3, O_CLOEXEC) < 0) _exit(1);
  syscall(SYS_close_range, 0U, 2U, 0);
  syscall(SYS_close_range, 4U, ~0U, 0);
  sw_error e = {0};
  int fd = netns_new_lo_up(tap ? make_tap : NULL, (void *)tap, &e);
  _exit(init_send_result(3, fd, &e) < 0 ? 1 : 0);
}

static void key_failed(struct pool_key *k, const char *what, int err) {
  k->fails++;
  logmsg("network namespace pool: %s: %s%s", what, strerror(err), k->fails >= POOL_MAX_FAILS ? " (no more spares for this command line)" : "");
  if (k->nsfd >= 0) close(k->nsfd), k->nsfd = -1;
  k->helper = 0;
  k->state = P_EMPTY;
}

static void maker_answer(struct watch *w, uint32_t events) {
  (void)events;
  struct pool_key *k = w->obj;
  struct init_msg m;
  int fd = -1;
  long r = init_recv(k->sock, &m, &fd);
  if (r == -EAGAIN || r == -EINTR) return;
  loop_del_close(&k->sock);
  loop_forget(&k->w);
  if (fd < 0) {
    char what[300];
    snprintf(what, sizeof what, "make a namespace: %.*s", (int)sizeof m.stage, r > 0 ? m.stage : "no answer");
    key_failed(k, what, r > 0 && m.err ? m.err : EIO);
    return;
  }
  k->nsfd = fd;
  pid_t pid = outbound_start_spare(k->argv, fd);
  if (pid < 0) {
    key_failed(k, "start its helper", (int)-pid);
    return;
  }
  k->helper = pid;
  k->state = P_STARTING;
}

static void make_spare(struct pool_key *k) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
    key_failed(k, "socketpair", errno);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) maker_child(sp[1], k->tap);
  close(sp[1]);
  if (pid < 0) {
    close(sp[0]);
    key_failed(k, "fork", errno);
    return;
  }
  k->maker = pid;
  k->since = monotonic_ms();
  k->sock = sp[0];
  set_nonblock(k->sock, true);
  k->w = (struct watch){maker_answer, k, 0};
  int r = loop_add(k->sock, EPOLLIN, &k->w);
  if (r < 0) {
    kill(pid, SIGKILL);
    loop_del_close(&k->sock);
    key_failed(k, "watch", -r);
    return;
  }
  k->state = P_MAKING;
}

void netpool_refill(void) {
  uint64_t now = monotonic_ms();
  for (unsigned i = 0; i < nkeys; i++) {
    struct pool_key *k = &keys[i];
    /* One that never got ready (a wedged helper): killed, its end counts as a failure. */
    if (k->state == P_MAKING && k->maker > 0 && now - k->since > SPARE_TIMEOUT_MS) kill(k->maker, SIGKILL);
    if (k->state == P_STARTING && now - k->since > SPARE_TIMEOUT_MS) outbound_kill_pid(k->helper);
    if (k->state == P_EMPTY && k->works && k->fails < POOL_MAX_FAILS && k->maker == 0) make_spare(k);
  }
}

void netpool_outbound_ready(const char *id) {
  for (unsigned i = 0; i < nkeys; i++)
    if (keys[i].probe_id && !strcmp(keys[i].probe_id, id)) {
      keys[i].works = true;
      free(keys[i].probe_id);
      keys[i].probe_id = NULL;
    }
}

void netpool_spare_ready(pid_t pid) {
  for (unsigned i = 0; i < nkeys; i++)
    if (keys[i].state == P_STARTING && keys[i].helper == pid) keys[i].state = P_READY;
}

void netpool_spare_gone(pid_t pid) {
  for (unsigned i = 0; i < nkeys; i++)
    if ((keys[i].state == P_STARTING || keys[i].state == P_READY) && keys[i].helper == pid)
      key_failed(&keys[i], "its helper exited before a container took it", ECHILD);
}

bool netpool_reaped(pid_t pid) {
  for (unsigned i = 0; i < nkeys; i++)
    if (keys[i].maker == pid && pid > 0) {
      keys[i].maker = 0;
      return true;
    }
  return false;
}

#include "janitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

enum { J_CLOSE = 1, J_GO, J_RMTREE, J_NETNS };
#define J_MAX_FDS 16
/* How long the janitor waits for GO before closing a job's fds anyway: GO is only missing when the
 * keeper could not queue it, long after its own close. */
#define J_GO_WAIT_MS 100

struct jhdr {
  uint32_t op;
  uint32_t pad;
  uint64_t cookie;
};

struct jreply {
  uint64_t cookie;
  int32_t err;
  uint32_t op; /* J_NETNS: a namespace's fd comes with it (SCM_RIGHTS) unless err */
};

struct jmsg {
  struct jhdr h;
  char path[PATH_MAX];
  int fds[J_MAX_FDS];
  int nfds;
};

/* One message (blocking). 1, 0 at EOF, -errno. */
static int jrecv(int fd, struct jmsg *m) {
  struct iovec iov[2] = {{&m->h, sizeof m->h}, {m->path, sizeof m->path - 1}};
  union {
    char buf[CMSG_SPACE(sizeof(int) * J_MAX_FDS)];
    struct cmsghdr align;
  } cb;
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = cb.buf, .msg_controllen = sizeof cb.buf};
  ssize_t n;
  do n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  m->nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k; i++) {
        int f;
        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
        if (m->nfds < J_MAX_FDS) m->fds[m->nfds++] = f;
        else close(f);
      }
    }
  if (n < 0) return -errno;
  if (n == 0) return 0;
  if ((size_t)n < sizeof m->h) m->h.op = 0; /* malformed: ignored */
  m->path[(size_t)n - ((size_t)n < sizeof m->h ? (size_t)n : sizeof m->h)] = 0;
  return 1;
}

static void jreply(int fd, uint64_t cookie, int err) {
  struct jreply r = {cookie, err, 0};
  while (send(fd, &r, sizeof r, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

/* J_NETNS's answer, with the namespace's fd when pass >= 0. 0 or -errno. */
static int jreply_netns(int fd, uint64_t cookie, int err, int pass) {
  struct jreply r = {cookie, err, J_NETNS};
  return send_with_fd(fd, &r, sizeof r, pass);
}

/* J_NETNS's child (netns_job): lo up in the new namespace it was cloned into, and that namespace's fd
 * into the janitor's own table (CLONE_FILES), or -errno. */
static int netns_child(void *arg) {
  int *out = arg;
  int r = 0, s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *out = -errno;
    return 0;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) r = -errno;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (!r && ioctl(s, SIOCSIFFLAGS, &ifr) < 0) r = -errno;
  close(s);
  if (!r && (r = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) r = -errno;
  *out = r;
  return 0; /* clone()'s wrapper ends the task: no noreturn call on a stack ASan does not know */
}

static char netns_stack[64 * 1024] __attribute__((aligned(64)));

/*
 * A new network namespace with lo up, made by a child cloned into it with CLONE_VM | CLONE_VFORK |
 * CLONE_FILES (no copy of our memory or fds, nothing to tear down at its exit but the task): the
 * janitor itself never joins it, so the namespace is held by the fd sent back alone and ends with the
 * container that joins it. A fork per namespace doubled the pool's CPU cost.
 */
static void netns_job(int sock, uint64_t cookie) {
  volatile int out = -EIO;
  pid_t pid = clone(netns_child, netns_stack + sizeof netns_stack, CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_NEWNET | SIGCHLD,
                    (void *)&out);
  if (pid < 0) {
    (void)jreply_netns(sock, cookie, errno, -1);
    return;
  }
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  int fd = out;
  (void)jreply_netns(sock, cookie, fd < 0 ? -fd : 0, fd);
  if (fd >= 0) close(fd);
}

static void close_all(struct jmsg *m) {
  for (int i = 0; i < m->nfds; i++) close(m->fds[i]);
  m->nfds = 0;
}

NORETURN static void janitor_main(int fd) {
  static struct jmsg cur, next;
  int r = jrecv(fd, &cur);
  for (;;) {
    if (r <= 0) _exit(0); /* the keeper closed its end (teardown) or is gone */
    if (cur.h.op == J_RMTREE) {
      close_all(&cur);
      int e = rmtree(cur.path);
      jreply(fd, cur.h.cookie, e < 0 ? -e : 0);
    } else if (cur.h.op == J_NETNS) {
      close_all(&cur);
      netns_job(fd, cur.h.cookie);
    } else if (cur.h.op == J_CLOSE) {
      /* The keeper closes its copies after this message and then sends GO: close ours after that,
       * so that ours are the last references (whatever the next message is, it was sent later). */
      struct pollfd p = {fd, POLLIN, 0};
      int pr;
      do pr = poll(&p, 1, J_GO_WAIT_MS);
      while (pr < 0 && errno == EINTR);
      r = pr > 0 ? jrecv(fd, &next) : 1;
      close_all(&cur);
      jreply(fd, cur.h.cookie, 0);
      if (pr <= 0) {
        r = jrecv(fd, &cur);
        continue;
      }
      if (r > 0 && next.h.op == J_GO && next.h.cookie == cur.h.cookie) {
        close_all(&next);
        r = jrecv(fd, &cur);
        continue;
      }
      cur = next;
      continue;
    } else {
      close_all(&cur); /* a late GO, or nonsense */
    }
    r = jrecv(fd, &cur);
  }
}

static void replies_readable(struct watch *w, uint32_t events) {
  (void)events;
  struct janitor *j = w->obj;
  for (;;) {
    struct jreply r;
    struct iovec iov = {&r, sizeof r};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } cb;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf, .msg_controllen = sizeof cb.buf};
    ssize_t n = recvmsg(j->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { /* gone: its unanswered jobs are settled when it is reaped */
      loop_del_close(&j->fd);
      return;
    }
    int got = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int f;
        memcpy(&f, CMSG_DATA(c), sizeof f);
        if (got < 0) got = f;
        else close(f);
      }
    if ((size_t)n != sizeof r) {
      if (got >= 0) close(got);
    } else if (r.op == J_NETNS) {
      if (j->netns_done) j->netns_done(r.cookie, got, got >= 0 ? 0 : r.err ? r.err : EIO);
      else if (got >= 0) close(got);
    } else {
      if (got >= 0) close(got);
      j->done(r.cookie, r.err);
    }
  }
}

int janitor_start(struct janitor *j) {
  if (j->pid > 0) return j->fd >= 0 ? 0 : -EPIPE; /* one that is going away is not replaced until reaped */
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return -errno;
  pid_t keeper = getpid();
  /* Named before the fork, so it has its name from its first instant (a test that lists the keeper's
   * children right after HELLO sees it as a janitor); the keeper takes its own back at once. */
  char name[17] = {0};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  prctl(PR_SET_NAME, JANITOR_COMM, 0, 0, 0);
  pid_t pid = fork();
  if (pid != 0) prctl(PR_SET_NAME, name, 0, 0, 0);
  if (pid < 0) {
    int e = errno;
    close(sp[0]);
    close(sp[1]);
    return -e;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* a keeper killed outright: the next one sweeps */
    if (getppid() != keeper) _exit(0);
    /* Nothing of the keeper's but this socket, at 0. */
    if (dup3(sp[1], 0, 0) < 0 && sp[1] != 0) _exit(1);
    syscall(SYS_close_range, 1U, ~0U, 0);
    janitor_main(0);
  }
  close(sp[1]);
  j->pid = pid;
  j->fd = sp[0];
  j->w = (struct watch){replies_readable, j, 0};
  int r = loop_add(j->fd, EPOLLIN, &j->w);
  if (r < 0) { /* unanswerable: it exits at EOF and is reaped; jobs go elsewhere meanwhile */
    close(j->fd);
    j->fd = -1;
    return r;
  }
  return 0;
}

static int jsend(struct janitor *j, uint32_t op, uint64_t cookie, const char *path, const int *fds, int n) {
  struct jhdr h = {op, 0, cookie};
  size_t plen = path ? strlen(path) : 0;
  if (plen >= PATH_MAX || n > J_MAX_FDS) return -ENAMETOOLONG;
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)path, plen}};
  union {
    char buf[CMSG_SPACE(sizeof(int) * J_MAX_FDS)];
    struct cmsghdr align;
  } cb;
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = plen ? 2 : 1};
  if (n > 0) {
    memset(&cb, 0, sizeof cb);
    mh.msg_control = cb.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
  }
  ssize_t s;
  do s = sendmsg(j->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (s < 0 && errno == EINTR);
  return s < 0 ? -errno : 0;
}

int janitor_close_fds(struct janitor *j, uint64_t cookie, const int *fds, int n) {
  int r = janitor_start(j);
  return r < 0 ? r : jsend(j, J_CLOSE, cookie, NULL, fds, n);
}

void janitor_go(struct janitor *j, uint64_t cookie) {
  if (j->fd >= 0) (void)jsend(j, J_GO, cookie, NULL, NULL, 0); /* missing: the janitor closes after its wait */
}

int janitor_rmtree(struct janitor *j, uint64_t cookie, const char *path) {
  int r = janitor_start(j);
  return r < 0 ? r : jsend(j, J_RMTREE, cookie, path, NULL, 0);
}

int janitor_make_netns(struct janitor *j, uint64_t cookie) {
  int r = janitor_start(j);
  return r < 0 ? r : jsend(j, J_NETNS, cookie, NULL, NULL, 0);
}

bool janitor_reaped(struct janitor *j, pid_t pid) {
  if (j->pid <= 0 || pid != j->pid) return false;
  j->pid = 0;
  loop_del_close(&j->fd);
  return true;
}

void janitor_finish(struct janitor *j) {
  if (j->pid <= 0) return;
  /* EOF after the queued jobs, even should a copy of our end live on in some child. */
  if (j->fd >= 0) shutdown(j->fd, SHUT_WR);
  loop_del_close(&j->fd);
  TEMP_FAILURE_RETRY(waitpid(j->pid, NULL, 0));
  j->pid = 0;
}

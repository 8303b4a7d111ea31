#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>

static void vreport(bool with_errno, int saved, const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (with_errno)
    dprintf(2, "slipway-helper: %s: %s\n", msg, strerror(saved));
  else
    dprintf(2, "slipway-helper: %s\n", msg);
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(false, 0, fmt, ap);
  va_end(ap);
  _exit(1);
}

void die_with_error(const char *fmt, ...) {
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  vreport(true, saved, fmt, ap);
  va_end(ap);
  _exit(1);
}

void die_oom(void) {
  static const char m[] = "slipway-helper: out of memory\n";
  (void)!write(2, m, sizeof m - 1);
  _exit(1);
}

void logmsg(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(2, "[%d] %s\n", (int)getpid(), msg);
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die_oom();
  return p;
}
void *xcalloc(size_t n, size_t m) {
  void *p = calloc(n ? n : 1, m ? m : 1);
  if (!p) die_oom();
  return p;
}
void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) die_oom();
  return p;
}
char *xstrdup(const char *s) {
  char *r = strdup(s ? s : "");
  if (!r) die_oom();
  return r;
}
char *xasprintf(const char *fmt, ...) {
  char *r;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&r, fmt, ap) < 0) die_oom();
  va_end(ap);
  return r;
}

int sw_fail_k(sw_error *e, int kind, int errnum, const char *fmt, ...) {
  if (errnum <= 0) errnum = EIO;
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->stage, sizeof e->stage, fmt, ap);
    va_end(ap);
    e->errnum = errnum;
    e->kind = kind;
  }
  return -errnum;
}

int sw_fail(sw_error *e, int errnum, const char *fmt, ...) {
  if (errnum <= 0) errnum = EIO;
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->stage, sizeof e->stage, fmt, ap);
    va_end(ap);
    e->errnum = errnum;
  }
  return -errnum;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

ssize_t read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

int mkdir_p(const char *path, mode_t mode) {
  cleanup_free char *p = xstrdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
    *s = '/';
  }
  if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
  return 0;
}

int write_file(const char *path, const char *content) {
  cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
  if (fd < 0) return -errno;
  return write_all(fd, content, strlen(content));
}

/* Remove dirfd/name recursively. Every open uses O_NOFOLLOW and every unlink is *at(), so a
 * symlink inside the tree (which may be owned by a container) is removed, never followed.
 *
 * Depth costs one open directory per level, so it is bounded: a directory at RMTREE_HOIST levels
 * is renamed to the top of the tree (`top`, held open) and removed by the next pass from there.
 * The old code failed a deeper tree with ELOOP instead, so a container that made a few hundred
 * nested directories (`mkdir d; cd d` in a loop) left its writable layer, and whatever it wrote
 * at the bottom, on disk for good: every later keeper's sweep failed on it the same way. */
#define RMTREE_HOIST 128

struct rmtree_pass {
  int top;
  unsigned hoisted;
};

static int rmtree_hoist(int parent, const char *name, struct rmtree_pass *p) {
  static unsigned seq;
  for (int tries = 0; tries < 64; tries++) {
    char to[64];
    snprintf(to, sizeof to, ".rmtree-%d-%u", (int)getpid(), seq++);
    if (renameat(parent, name, p->top, to) == 0) {
      p->hoisted++;
      return 0;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) return -errno;
  }
  return -EEXIST;
}

static int rmtree_dir_contents(int fd, int depth, struct rmtree_pass *p) {
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = -errno;
    close(fd);
    return e;
  }
  int ret = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (unlinkat(dirfd(d), de->d_name, 0) == 0) continue;
    if (errno != EISDIR && errno != EPERM) {
      if (errno != ENOENT && !ret) ret = -errno;
      continue;
    }
    int unlink_err = errno;
    if (depth >= RMTREE_HOIST && unlink_err == EISDIR) {
      int r = rmtree_hoist(dirfd(d), de->d_name, p);
      if (r < 0 && !ret) ret = r;
      continue;
    }
    int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 && errno == ENOTDIR) {
      /* EPERM was about the file itself (immutable, append-only), not a directory: report that. */
      if (!ret) ret = -unlink_err;
      continue;
    }
    if (sub < 0) {
      /* A directory we cannot read (mode 000, e.g. overlay's work/work): make it readable. */
      if (errno == EACCES && fchmodat(dirfd(d), de->d_name, 0700, 0) == 0)
        sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        if (!ret) ret = -errno;
        continue;
      }
    }
    int r = rmtree_dir_contents(sub, depth + 1, p);
    if (r < 0 && !ret) ret = r;
    if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && !ret) ret = -errno;
  }
  closedir(d);
  return ret;
}

int rmtree_at(int dirfd, const char *name) {
  if (unlinkat(dirfd, name, 0) == 0) return 0;
  if (errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -errno;
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
      fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -errno;
  }
  cleanup_fd int top = fd;
  int r = 0;
  /* Each pass removes what it reaches and hoists what lies deeper to the top; a pass that hoisted
   * nothing has emptied the tree (or failed: its first error is the answer). */
  for (;;) {
    struct rmtree_pass p = {.top = top, .hoisted = 0};
    int again = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (again < 0) {
      r = -errno;
      break;
    }
    r = rmtree_dir_contents(again, 0, &p);
    if (r < 0 || p.hoisted == 0) break;
  }
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return r < 0 ? r : -errno;
  return r;
}

int rmtree(const char *path) {
  if (!path || !*path || !strcmp(path, "/")) return -EINVAL;
  return rmtree_at(AT_FDCWD, path);
}

int set_nonblock(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/*
 * The relay's loopback sockets use Reno instead of the system default. A pacing congestion control
 * (BBR, the default on many hosts and on this CI machine) paces each socket with an hrtimer when
 * the device has no fq qdisc, as lo never has: on a loopback path, where nothing is ever lost or
 * queued, that is pure overhead (the relay's TCP send ran 5% of the time in tcp_pace_kick and
 * tcp_tsq_handler). Reno paces nothing, and is the one algorithm every kernel has and every user may
 * pick (TCP_CONG_NON_RESTRICTED). Best effort: a host that restricts it keeps its default.
 */
void tcp_loopback_cc(int fd) {
  static const char reno[] = "reno";
  (void)setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, reno, sizeof reno - 1);
}

void set_process_title(const char *title) {
  prctl(PR_SET_NAME, title, 0, 0, 0);
  if (!sw_argv_area || sw_argv_len == 0) return;
  size_t n = strlen(title);
  if (n > sw_argv_len) n = sw_argv_len;
  memset(sw_argv_area, 0, sw_argv_len);
  memcpy(sw_argv_area, title, n);
}

int send_with_fd(int sock, const void *buf, size_t len, int pass_fd) {
  struct iovec iov = {(void *)buf, len};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (pass_fd >= 0) {
    memset(&u, 0, sizeof u);
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  if (TEMP_FAILURE_RETRY(sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0) return -errno;
  return 0;
}

uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#include "rootfs.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#include "process.h"
#include "protocol.h"

enum { NO_CREATE = 0, CREATE_DIR = 1, CREATE_FILE = 2 };

/* Resolves rel inside rootfd: ".." and absolute symlinks stay inside the new root, so a hostile
 * image cannot point a mount point at the host (e.g. /dev -> /etc). */
static int resolve(int rootfd, const char *rel, int flags) {
  while (*rel == '/') rel++;
  if (!*rel) rel = ".";
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
}

/* Lexically normalises a path inside the root: no empty, "." or ".." components (".." stops at
 * the root, as RESOLVE_IN_ROOT does). The result has no leading slash. */
static void normalize_in_root(char *out, size_t n, const char *in) {
  size_t len = 0;
  out[0] = 0;
  cleanup_free char *copy = xstrdup(in);
  char *save = NULL;
  for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
    if (!strcmp(c, ".")) continue;
    if (!strcmp(c, "..")) {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--;
      out[len] = 0;
      continue;
    }
    int w = snprintf(out + len, n - len, "%s%s", len ? "/" : "", c);
    if (w < 0 || (size_t)w >= n - len) break;
    len += (size_t)w;
  }
}

/* Opens path inside the root, creating what is missing (directories, and the last component as
 * `create` says). A dangling symlink on the way is followed *inside* the root and its target is
 * created there, as Docker does for mount points; nothing is ever created outside the root. */
static int open_in_root_depth(int rootfd, const char *path, int create, int depth);

/* Creates the last component of path (create says what) in a directory fd, and returns an fd of the
 * new object (O_PATH for a directory, read-only for a file: both only name it, for a mount). O_EXCL
 * and O_NOFOLLOW: an existing name (a dangling symlink) is -EEXIST, never followed. */
static int create_at(int dirfd, const char *name, int create) {
  if (create == CREATE_FILE) {
    int fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
  }
  if (mkdirat(dirfd, name, 0755) < 0) return -errno;
  int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

/* The common case of a missing mount point: its parent exists, only the last component is missing.
 * 4 syscalls instead of the walk's 9. -EAGAIN when the walk below must handle it (a missing parent,
 * a dangling symlink, "." or ".."). */
static int create_last(int rootfd, const char *path, int create) {
  char buf[PATH_MAX];
  while (*path == '/') path++;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return -EAGAIN;
  memcpy(buf, path, n + 1);
  while (n > 0 && buf[n - 1] == '/') buf[--n] = 0;
  char *slash = strrchr(buf, '/');
  const char *name = slash ? slash + 1 : buf;
  if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) return -EAGAIN;
  if (slash) *slash = 0;
  cleanup_fd int pfd = resolve(rootfd, slash ? buf : ".", O_PATH | O_DIRECTORY);
  if (pfd < 0) return -EAGAIN;
  int fd = create_at(pfd, name, create);
  return fd == -EEXIST || fd == -ENOENT ? -EAGAIN : fd;
}

static int open_in_root_depth(int rootfd, const char *path, int create, int depth) {
  int fd = resolve(rootfd, path, O_PATH);
  if (fd >= 0 || fd != -ENOENT || create == NO_CREATE) return fd;
  if ((fd = create_last(rootfd, path, create)) != -EAGAIN) return fd;
  if (depth > 40) return -ELOOP;
  char buf[PATH_MAX];
  while (*path == '/') path++;
  if (strlen(path) >= sizeof buf) return -ENAMETOOLONG;
  strcpy(buf, path);
  size_t n = strlen(buf);
  for (size_t start = 0; start < n;) {
    size_t end = start;
    while (end < n && buf[end] != '/') end++;
    if (end == start) {
      start++;
      continue;
    }
    bool last = end >= n || buf[end + 1] == 0;
    char saved = buf[end];
    buf[end] = 0;
    int cfd = resolve(rootfd, buf, O_PATH);
    if (cfd >= 0) {
      close(cfd);
    } else if (cfd == -ENOENT) {
      char comp[NAME_MAX + 1];
      snprintf(comp, sizeof comp, "%s", buf + start);
      if (start > 0) buf[start - 1] = 0;
      int pfd = resolve(rootfd, start > 0 ? buf : ".", O_PATH | O_DIRECTORY);
      if (pfd < 0) return pfd;
      int r = 0;
      if (last && create == CREATE_FILE) {
        int ffd = openat(pfd, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (ffd < 0) r = -errno;
        else close(ffd);
      } else if (mkdirat(pfd, comp, 0755) < 0) {
        r = -errno;
      }
      if (r == -EEXIST) {
        /* It exists but does not resolve: a dangling symlink. Continue at its target. */
        char target[PATH_MAX];
        ssize_t tl = readlinkat(pfd, comp, target, sizeof target - 1);
        if (tl <= 0) {
          close(pfd);
          return -ENOENT;
        }
        target[tl] = 0;
        const char *rest = last ? "" : buf + end + 1;
        cleanup_free char *joined = target[0] == '/' ? xasprintf("%s/%s", target, rest)
                                                      : xasprintf("%s/%s/%s", start > 0 ? buf : "", target, rest);
        close(pfd);
        char norm[PATH_MAX];
        normalize_in_root(norm, sizeof norm, joined);
        return open_in_root_depth(rootfd, norm, create, depth + 1);
      }
      close(pfd);
      if (start > 0) buf[start - 1] = '/';
      if (r < 0) return r;
    } else {
      return cfd;
    }
    buf[end] = saved;
    start = end + 1;
  }
  return resolve(rootfd, path, O_PATH);
}

static int open_in_root(int rootfd, const char *path, int create) { return open_in_root_depth(rootfd, path, create, 0); }

static void fd_path(char *out, size_t n, int fd) { snprintf(out, n, "/proc/self/fd/%d", fd); }

/* Mounts onto the object an O_PATH fd refers to (closing it), so the path is never resolved a second time.
 * fd < 0 is the -errno of obtaining it; prefix and name spell the mount point in messages. */
static int mount_on_fd(int fd, const char *prefix, const char *name, const char *src, const char *fstype,
                       unsigned long flags, const char *data, sw_error *e) {
  if (fd < 0) return sw_fail(e, -fd, "create mount point %s%s", prefix, name);
  char p[64];
  fd_path(p, sizeof p, fd);
  int r = mount(src, p, fstype, flags, data) < 0 ? sw_fail(e, errno, "mount %s on %s%s", fstype ? fstype : src, prefix, name) : 0;
  close(fd);
  return r;
}

static int mount_at(int rootfd, const char *path, int create, const char *src, const char *fstype,
                    unsigned long flags, const char *data, sw_error *e) {
  return mount_on_fd(open_in_root(rootfd, path, create), "", path, src, fstype, flags, data, e);
}

/* Creates name in dirfd (a directory we just made, where nothing can be in the way) and mounts onto it. */
static int mount_in_dev(int dirfd, const char *name, int create, const char *src, const char *fstype,
                        unsigned long flags, const char *data, sw_error *e) {
  return mount_on_fd(create_at(dirfd, name, create), "/dev/", name, src, fstype, flags, data, e);
}

static unsigned long locked_flags(int fd) {
  struct statvfs sv;
  unsigned long f = 0;
  if (fstatvfs(fd, &sv) < 0) return 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static int remount_one_ro(const char *p, int fd) {
  return mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(fd), NULL);
}

/* Kernels before 5.12 (no mount_setattr): each mount below path, as /proc/self/mountinfo lists
 * them (field 5, octal escapes as the kernel writes them), remounted read-only one by one. */
static int remount_submounts_ro(int fd, const char *path, sw_error *e) {
  char self[64], top[PATH_MAX];
  fd_path(self, sizeof self, fd);
  ssize_t n = readlink(self, top, sizeof top - 1);
  if (n < 0) return sw_fail(e, errno, "readlink %s", path);
  top[n] = 0;
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return sw_fail(e, errno, "read mountinfo for %s", path);
  char line[4096];
  int r = 0;
  while (r == 0 && fgets(line, sizeof line, f)) {
    char mp[PATH_MAX], raw[PATH_MAX];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", raw) != 1) continue;
    size_t j = 0;
    for (size_t i = 0; raw[i] && j < sizeof mp - 1; i++) {
      if (raw[i] == '\\' && raw[i + 1] >= '0' && raw[i + 1] <= '3' && raw[i + 2] && raw[i + 3]) {
        mp[j++] = (char)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0'));
        i += 3;
      } else {
        mp[j++] = raw[i];
      }
    }
    mp[j] = 0;
    if (strncmp(mp, top, (size_t)n) || mp[n] != '/') continue;
    cleanup_fd int sub = open(mp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    char sp[64];
    fd_path(sp, sizeof sp, sub);
    if (sub < 0 || remount_one_ro(sp, sub) < 0) r = sw_fail(e, errno, "remount %s read-only", mp);
  }
  fclose(f);
  return r;
}

/* Read-only remount of the mount now sitting at path AND of every mount below it: a recursive
 * bind (the host's /sys in host network mode brings /sys/fs/cgroup/<controller>,
 * /sys/kernel/tracing...) made read-only at its top only left those writable, so a container's
 * root wrote the host's cgroup files and tracefs. mount_setattr only adds MOUNT_ATTR_RDONLY: the
 * flags the parent namespace locked (nosuid, nodev, ...) are kept, as the remount below keeps them. */
static int remount_ro(int rootfd, const char *path, sw_error *e) {
  cleanup_fd int fd = resolve(rootfd, path, O_PATH);
  if (fd < 0) return sw_fail(e, -fd, "reopen %s", path);
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0) return 0;
  if (errno != ENOSYS) return sw_fail(e, errno, "make %s and its submounts read-only", path);
  char p[64];
  fd_path(p, sizeof p, fd);
  if (remount_one_ro(p, fd) < 0) return sw_fail(e, errno, "remount %s read-only", path);
  return remount_submounts_ro(fd, path, e);
}

static bool has_bad_chars(const char *p) { return strchr(p, ':') || strchr(p, ','); }

/* short: name the lowers "0", "1", ... (symlinks created by mount_overlay in the cwd). */
static char *overlay_data(const struct container_spec *s, bool short_lowers, bool userxattr) {
  size_t cap = 64 + strlen(s->upper) + strlen(s->work);
  for (size_t i = 0; i < s->nlowers; i++) cap += strlen(s->lowers[i]) + 12;
  char *d = xmalloc(cap), *p = d;
  p += sprintf(p, "lowerdir=");
  for (size_t i = 0; i < s->nlowers; i++) {
    if (short_lowers) p += sprintf(p, "%s%zu", i ? ":" : "", i);
    else p += sprintf(p, "%s%s", i ? ":" : "", s->lowers[i]);
  }
  p += sprintf(p, ",upperdir=%s,workdir=%s%s", s->upper, s->work, userxattr ? ",userxattr" : "");
  return d;
}

/* How the root is assembled from the layers (SLIPWAY_ROOTFS). auto = kernel overlay, then
 * fuse-overlayfs, then a copy. */
enum rootfs_strategy { RS_AUTO, RS_OVERLAY, RS_FUSE, RS_COPY };
static enum rootfs_strategy strategy = RS_AUTO;

void rootfs_init(void) {
  const char *v = getenv("SLIPWAY_ROOTFS");
  if (!v || !*v || !strcmp(v, "auto")) strategy = RS_AUTO;
  else if (!strcmp(v, "overlay")) strategy = RS_OVERLAY;
  else if (!strcmp(v, "fuse-overlayfs")) strategy = RS_FUSE;
  else if (!strcmp(v, "copy")) strategy = RS_COPY;
  else die_with_error("SLIPWAY_ROOTFS=%s: expected auto, overlay, fuse-overlayfs or copy", v);
}

/* ---- fuse-overlayfs, served from outside the container -------------------------------------
 * fuse-overlayfs holds fds of host directories (the layers, the upper dir) and every capability of
 * our user namespace. Run by init, it was a process of the container's pid namespace: a container
 * given SYS_PTRACE could ptrace it, or walk /proc/<pid>/fd/<n>/.. to any host file it can reach.
 * So the keeper starts it *before* the container's clone, in the keeper's own pid namespace (which
 * the container never sees), blocked on a pipe. init mounts the /dev/fuse fd the keeper opened
 * (fuse's `fd=N` mount option, in the container's mount namespace) and writes the go byte; only
 * then does fuse-overlayfs start serving that fd (libfuse's "/dev/fd/N" mount point form). If init
 * does not need it (the kernel overlay worked) or dies first, the pipe's EOF ends it unexecuted.
 * It exits by itself when the mount goes (ENODEV on /dev/fuse, once the container's mount
 * namespace is gone) and dies with the keeper (PR_SET_PDEATHSIG). */

#define OVL_MAX_STACK 500 /* the kernel overlay's limit on lower layers */

/* auto: whether the kernel mounts a userxattr overlay here at all (probed once, -1 = not yet). */
static int overlay_probe = -1;

static bool kernel_overlay_works(const struct container_spec *s) {
  if (overlay_probe >= 0) return overlay_probe;
  if (s->nlowers == 0) return true;
  cleanup_free char *target = xasprintf("%s/rootfs", s->state_dir);
  cleanup_free char *data = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", s->lowers[0], s->upper, s->work);
  if (mkdir(target, 0755) < 0 && errno != EEXIST) return true; /* init will report it */
  /* In a throw-away mount namespace: the mount goes with the child. */
  pid_t pid = fork();
  if (pid < 0) return true;
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(2);
    _exit(mount("overlay", target, "overlay", 0, data) == 0 ? 0 : 1);
  }
  int st;
  if (TEMP_FAILURE_RETRY(waitpid(pid, &st, 0)) < 0) return true;
  overlay_probe = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (!overlay_probe) logmsg("the kernel refuses a userxattr overlay here; roots are served by fuse-overlayfs when it is installed");
  return overlay_probe;
}

/* The fuse-overlayfs binary from PATH, looked up once (NULL when missing). */
static const char *fuse_binary(void) {
  static char *found;
  static bool looked;
  if (looked) return found;
  looked = true;
  const char *path = getenv("PATH");
  cleanup_free char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  char *save = NULL;
  for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    cleanup_free char *cand = xasprintf("%s/fuse-overlayfs", d);
    if (access(cand, X_OK) == 0) {
      found = steal_pointer(&cand);
      break;
    }
  }
  return found;
}

/* The mount data is limited to one page (and one argv string to 128 KiB): with many layers, name
 * them through short symlinks "<state>/l/<n>"; relative lower paths resolve against the cwd of
 * whoever mounts, and the symlinks are followed once, at mount time. Returns the dir or NULL. */
static char *lower_links(const struct container_spec *s, sw_error *e, int *err) {
  *err = 0;
  cleanup_free char *data = overlay_data(s, false, true);
  if (strlen(data) < 4000) return NULL;
  char *dir = xasprintf("%s/l", s->state_dir);
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    *err = sw_fail(e, errno, "mkdir %s", dir);
    free(dir);
    return NULL;
  }
  for (size_t i = 0; i < s->nlowers; i++) {
    cleanup_free char *link = xasprintf("%s/%zu", dir, i);
    unlink(link);
    if (symlink(s->lowers[i], link) < 0) {
      *err = sw_fail(e, errno, "symlink %s", link);
      free(dir);
      return NULL;
    }
  }
  return dir;
}

/* The daemon, forked by the keeper: waits for init's go, then serves the fd as fd 3. */
NORETURN static void fuse_daemon(pid_t keeper, const char *bin, const char *opts, const char *dir, int fuse, int go) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != keeper) _exit(1);
  process_reset_signals();
  /* Nothing of the keeper stays open here: not Node's pipes, not other containers' sockets. */
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  int hf = fcntl(fuse, F_DUPFD_CLOEXEC, 1000), hg = fcntl(go, F_DUPFD_CLOEXEC, 1000);
  if (nul < 0 || hf < 0 || hg < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(hf, 3) < 0 || dup3(hg, 4, O_CLOEXEC) < 0)
    _exit(1);
  syscall(SYS_close_range, 5, ~0U, 0);
  char c;
  if (TEMP_FAILURE_RETRY(read(4, &c, 1)) != 1) _exit(0); /* init did not mount it */
  close(4);
  if (dir && chdir(dir) < 0) _exit(1);
  execl(bin, "fuse-overlayfs", "-f", "-o", opts, "/dev/fd/3", (char *)NULL);
  _exit(127);
}

int rootfs_prepare(struct container_spec *s, sw_error *e) {
  s->fuse_fd = s->fuse_go = -1;
  s->fuse_pid = 0;
  if (s->rootfs || strategy == RS_OVERLAY || strategy == RS_COPY) return 0;
  if (strategy == RS_AUTO && s->nlowers <= OVL_MAX_STACK && kernel_overlay_works(s)) return 0;
  const char *bin = fuse_binary();
  if (!bin) return strategy == RS_FUSE ? sw_fail_k(e, EK_ROOTFS, ENOENT, "mount fuse-overlayfs: not installed") : 0;
  cleanup_fd int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse < 0)
    return strategy == RS_FUSE ? sw_fail_k(e, EK_ROOTFS, errno, "mount fuse-overlayfs: open /dev/fuse (it must be readable and writable)") : 0;
  int r;
  cleanup_free char *dir = lower_links(s, e, &r);
  if (r < 0) return r;
  cleanup_free char *opts = overlay_data(s, dir != NULL, false);
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) return sw_fail_k(e, EK_ROOTFS, errno, "mount fuse-overlayfs: pipe");
  pid_t keeper = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(go[0]);
    close(go[1]);
    return sw_fail_k(e, EK_ROOTFS, err, "mount fuse-overlayfs: fork");
  }
  if (pid == 0) fuse_daemon(keeper, bin, opts, dir, fuse, go[0]);
  close(go[0]);
  s->fuse_fd = steal_fd(&fuse);
  s->fuse_go = go[1];
  s->fuse_pid = pid;
  return 0;
}

void rootfs_prepared_close(struct container_spec *s) {
  if (s->fuse_fd >= 0) close(s->fuse_fd);
  if (s->fuse_go >= 0) close(s->fuse_go);
  s->fuse_fd = s->fuse_go = -1;
}

int rootfs_child_fds(struct container_spec *s, int first) {
  int *fds[] = {&s->fuse_fd, &s->fuse_go};
  int high[2] = {-1, -1};
  for (int i = 0; i < 2; i++)
    if (*fds[i] >= 0 && (high[i] = fcntl(*fds[i], F_DUPFD_CLOEXEC, 1000)) < 0) return -errno;
  for (int i = 0; i < 2; i++) {
    if (high[i] < 0) continue;
    if (dup3(high[i], first, O_CLOEXEC) < 0) return -errno;
    *fds[i] = first++;
  }
  return first;
}

/* In init: mounts the prepared /dev/fuse fd as the root and lets fuse-overlayfs serve it. */
static int mount_prepared_fuse(const struct container_spec *s, const char *target) {
  char data[128];
  snprintf(data, sizeof data, "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other", s->fuse_fd);
  /* The flags fuse-overlayfs mounts with itself: nodev, noatime (setuid binaries keep working). */
  if (mount("fuse-overlayfs", target, "fuse.fuse-overlayfs", MS_NODEV | MS_NOATIME, data) < 0) return -errno;
  if (write_all(s->fuse_go, "g", 1) < 0) {
    int err = errno;
    umount2(target, MNT_DETACH);
    return -err;
  }
  return 0;
}

/* ---- copy strategy: the layers copied bottom-up into the upper dir, which becomes the root. ----
 * Everything is done relative to directory fds with O_NOFOLLOW, so a symlink in a layer (or one
 * already copied) is copied as a link and never followed. Hard links become separate files. */

static bool is_overlay_xattr(const char *n) { return !strncmp(n, "user.overlay.", 13) || !strncmp(n, "trusted.overlay.", 16); }

static bool dir_opaque(int dirfd, const char *name) {
  char p[PATH_MAX], v[4];
  snprintf(p, sizeof p, "/proc/self/fd/%d/%s", dirfd, name);
  ssize_t n = lgetxattr(p, "user.overlay.opaque", v, sizeof v);
  if (n < 0) n = lgetxattr(p, "trusted.overlay.opaque", v, sizeof v);
  return n == 1 && v[0] == 'y';
}

/* Owner, mode, xattrs and times of src/name onto dst/name (best effort for owner and xattrs:
 * an id or attribute the namespace cannot represent is skipped). */
static void copy_meta(int sdir, int ddir, const char *name, const struct stat *st) {
  (void)!fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
  if (!S_ISLNK(st->st_mode)) (void)!fchmodat(ddir, name, st->st_mode & 07777, 0);
  char sp[PATH_MAX], dp[PATH_MAX];
  snprintf(sp, sizeof sp, "/proc/self/fd/%d/%s", sdir, name);
  snprintf(dp, sizeof dp, "/proc/self/fd/%d/%s", ddir, name);
  char names[4096];
  ssize_t n = llistxattr(sp, names, sizeof names);
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
    const char *k = names + off;
    if (is_overlay_xattr(k)) continue;
    char val[4096];
    ssize_t vl = lgetxattr(sp, k, val, sizeof val);
    if (vl >= 0) (void)!lsetxattr(dp, k, val, (size_t)vl, 0);
  }
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  (void)!utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st) {
  cleanup_fd int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return -errno;
  cleanup_fd int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) return -errno;
  off_t left = st->st_size;
  while (left > 0) {
    ssize_t c = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
    if (c < 0 && errno == EINTR) continue;
    if (c < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
      char buf[65536];
      ssize_t r = TEMP_FAILURE_RETRY(read(in, buf, sizeof buf));
      if (r < 0) return -errno;
      if (r == 0) break;
      if (write_all(out, buf, (size_t)r) < 0) return -EIO;
      left -= r;
      continue;
    }
    if (c < 0) return -errno;
    if (c == 0) break;
    left -= c;
  }
  return 0;
}

static int copy_layer_dir(int sdir, int ddir, const char *where, int depth, sw_error *e) {
  if (depth > 512) return sw_fail(e, ELOOP, "copy layers: %s nested too deep", where);
  int dupfd = dup(sdir);
  if (dupfd < 0) return sw_fail(e, errno, "copy layers: dup");
  DIR *d = fdopendir(dupfd);
  if (!d) {
    close(dupfd);
    return sw_fail(e, errno, "copy layers: read %s", where);
  }
  int ret = 0;
  struct dirent *de;
  while (!ret && (de = readdir(d))) {
    const char *name = de->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
    struct stat st, dst;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      ret = sw_fail(e, errno, "copy layers: stat %s/%s", where, name);
      break;
    }
    bool have = fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) { /* whiteout */
      if (have) rmtree_at(ddir, name);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (have && (!S_ISDIR(dst.st_mode) || dir_opaque(sdir, name))) {
        rmtree_at(ddir, name);
        have = false;
      }
      if (!have && mkdirat(ddir, name, 0700) < 0) {
        ret = sw_fail(e, errno, "copy layers: mkdir %s/%s", where, name);
        break;
      }
      int s2 = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int d2 = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s2 < 0 || d2 < 0) {
        ret = sw_fail(e, errno, "copy layers: open %s/%s", where, name);
      } else {
        cleanup_free char *sub = xasprintf("%s/%s", where, name);
        ret = copy_layer_dir(s2, d2, sub, depth + 1, e);
      }
      if (s2 >= 0) close(s2);
      if (d2 >= 0) close(d2);
      if (!ret) copy_meta(sdir, ddir, name, &st);
      continue;
    }
    if (have) rmtree_at(ddir, name);
    int r = 0;
    if (S_ISREG(st.st_mode)) {
      r = copy_file(sdir, ddir, name, &st);
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlinkat(sdir, name, target, sizeof target - 1);
      if (n < 0) r = -errno;
      else {
        target[n] = 0;
        r = symlinkat(target, ddir, name) < 0 ? -errno : 0;
      }
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      /* Device nodes cannot be made in a user namespace: skipped, as the image's /dev is replaced anyway. */
      if (mknodat(ddir, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0) {
        if (errno == EPERM) continue;
        r = -errno;
      }
    } else {
      continue; /* sockets */
    }
    if (r < 0) {
      ret = sw_fail(e, -r, "copy layers: %s/%s", where, name);
      break;
    }
    copy_meta(sdir, ddir, name, &st);
  }
  closedir(d);
  return ret;
}

static int copy_layers(const struct container_spec *s, const char *target, sw_error *e) {
  /* The upper dir now holds the whole image, not the container's changes: Node must not commit it
   * as a layer. The marker in the state dir says so (see ROOTFS_COPY_MARKER); it is written before
   * the first byte is copied, so a root that is a copy never goes unmarked. */
  cleanup_free char *marker = xasprintf("%s/" ROOTFS_COPY_MARKER, s->state_dir);
  cleanup_fd int mfd = open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (mfd < 0) return sw_fail(e, errno, "create %s", marker);
  cleanup_fd int ufd = open(s->upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ufd < 0) return sw_fail(e, errno, "open %s", s->upper);
  for (size_t i = s->nlowers; i-- > 0;) {
    cleanup_fd int lfd = open(s->lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0) return sw_fail(e, errno, "open %s", s->lowers[i]);
    int r = copy_layer_dir(lfd, ufd, s->lowers[i], 0, e);
    if (r < 0) return r;
  }
  if (mount(s->upper, target, NULL, MS_BIND | MS_REC, NULL) < 0) return sw_fail(e, errno, "bind %s", s->upper);
  return 0;
}

static int mount_overlay(const struct container_spec *s, const char *target, sw_error *e) {
  if (has_bad_chars(s->upper) || has_bad_chars(s->work))
    return sw_fail_k(e, EK_ROOTFS, EINVAL, "mount overlay: ':' or ',' in upper/work path");
  for (size_t i = 0; i < s->nlowers; i++)
    if (has_bad_chars(s->lowers[i])) return sw_fail_k(e, EK_ROOTFS, EINVAL, "mount overlay: ':' or ',' in %s", s->lowers[i]);
  if (strategy == RS_COPY) return copy_layers(s, target, e);
  int kerr = 0;
  if (strategy != RS_FUSE) {
    int r;
    cleanup_free char *dir = lower_links(s, e, &r);
    if (r < 0) return r;
    cleanup_free char *data = overlay_data(s, dir != NULL, true);
    if (strlen(data) >= 4000) return sw_fail_k(e, EK_ROOTFS, E2BIG, "mount overlay: %zu layers do not fit into one page", s->nlowers);
    if (dir && chdir(dir) < 0) return sw_fail(e, errno, "chdir %s", dir);
    kerr = mount("overlay", target, "overlay", 0, data) < 0 ? errno : 0;
    if (dir) (void)!chdir("/");
    if (!kerr || strategy == RS_OVERLAY) return kerr ? sw_fail_k(e, EK_ROOTFS, kerr, "mount overlay") : 0;
  }
  int fr = s->fuse_fd >= 0 ? mount_prepared_fuse(s, target) : -ENOENT;
  if (fr < 0) {
    const char *why = s->fuse_fd < 0 ? "not installed or no usable /dev/fuse" : strerror(-fr);
    if (strategy == RS_FUSE) return sw_fail_k(e, EK_ROOTFS, -fr, "mount fuse-overlayfs: %s", why);
    logmsg("kernel overlay failed (%s), fuse-overlayfs %s; copying the layers", strerror(kerr), why);
    return copy_layers(s, target, e);
  }
  if (kerr) logmsg("kernel overlay failed (%s); using fuse-overlayfs", strerror(kerr));
  return 0;
}

static const char *const masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int mask_path(int rootfd, const char *path, sw_error *e) {
  cleanup_fd int fd = resolve(rootfd, path, O_PATH | O_NOFOLLOW);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return sw_fail(e, -fd, "open %s to mask it", path);
  struct stat st;
  if (fstat(fd, &st) < 0) return sw_fail(e, errno, "stat %s", path);
  char p[64];
  fd_path(p, sizeof p, fd);
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", p, "tmpfs", MS_RDONLY, "nr_blocks=1,nr_inodes=1") == 0) return 0;
    /* Some kernels need two inodes for an empty tmpfs (runc's Ubuntu 5.4 workaround). */
    if (errno == EINVAL && mount("tmpfs", p, "tmpfs", MS_RDONLY, "nr_blocks=1,nr_inodes=2") == 0) return 0;
    return sw_fail(e, errno, "mask %s", path);
  }
  if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) return sw_fail(e, errno, "mask %s", path);
  return 0;
}

static int readonly_path(int rootfd, const char *path, sw_error *e) {
  cleanup_fd int fd = resolve(rootfd, path, O_PATH | O_NOFOLLOW);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return sw_fail(e, -fd, "open %s", path);
  char p[64];
  fd_path(p, sizeof p, fd);
  if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) return sw_fail(e, errno, "bind %s", path);
  return remount_ro(rootfd, path, e);
}

static int setup_dev(int rootfd, const struct container_spec *s, sw_error *e) {
  int r;
  if ((r = mount_at(rootfd, "/dev", CREATE_DIR, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", e)) < 0)
    return r;
  /* The new, empty tmpfs: everything below is created in it by name, with no walk from the root. */
  cleanup_fd int devfd = resolve(rootfd, "/dev", O_PATH | O_DIRECTORY);
  if (devfd < 0) return sw_fail(e, -devfd, "open /dev");
  /* mknod is impossible in a user namespace: bind the host's nodes onto empty files instead. */
  static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
    char src[32];
    snprintf(src, sizeof src, "/dev/%s", devs[i]);
    if ((r = mount_in_dev(devfd, devs[i], CREATE_FILE, src, NULL, MS_BIND, NULL, e)) < 0) return r;
  }
  static const char *const links[][2] = {
      {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"},
  };
  for (size_t i = 0; i < sizeof links / sizeof *links; i++)
    if (symlinkat(links[i][1], devfd, links[i][0]) < 0) return sw_fail(e, errno, "symlink /dev/%s", links[i][0]);
  /* gid=5 (tty) only exists when ids are identity-mapped; elsewhere the option makes mount fail. */
  if ((r = mount_in_dev(devfd, "pts", CREATE_DIR, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                    s->identity_mapped ? "newinstance,ptmxmode=0666,mode=0620,gid=5" : "newinstance,ptmxmode=0666,mode=0620", e)) < 0)
    return r;
  char shm[80];
  snprintf(shm, sizeof shm, "mode=1777,size=%llu", (unsigned long long)(s->shm_size ? s->shm_size : 65536 * 1024ULL));
  if ((r = mount_in_dev(devfd, "shm", CREATE_DIR, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm, e)) < 0) return r;
  if ((r = mount_in_dev(devfd, "mqueue", CREATE_DIR, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, e)) < 0)
    return r;
  return 0;
}

static int setup_sys(int rootfd, sw_error *e) {
  sw_error ignored;
  if (mount_at(rootfd, "/sys", CREATE_DIR, "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, &ignored) == 0)
    return 0;
  /* sysfs can only be mounted by the owner of the network namespace; in host network mode we
   * are not, so bind the host's /sys and make it read-only (crun's sysfs_userns_fallback). */
  int r = mount_at(rootfd, "/sys", CREATE_DIR, "/sys", NULL, MS_BIND | MS_REC, NULL, e);
  if (r < 0) return r;
  return remount_ro(rootfd, "/sys", e);
}

static int spec_mount(int rootfd, const struct mount_spec *m, sw_error *e) {
  if (m->type == MOUNT_TMPFS) {
    int r = mount_at(rootfd, m->dst, CREATE_DIR, "tmpfs", "tmpfs", m->flags | (m->ro ? MS_RDONLY : 0),
                     m->opts && *m->opts ? m->opts : "mode=1777", e);
    return r;
  }
  struct stat st;
  if (stat(m->src, &st) < 0) return sw_fail(e, errno, "bind mount source %s", m->src);
  int r = mount_at(rootfd, m->dst, S_ISDIR(st.st_mode) ? CREATE_DIR : CREATE_FILE, m->src, NULL, MS_BIND | MS_REC, NULL, e);
  if (r < 0) return r;
  return m->ro ? remount_ro(rootfd, m->dst, e) : 0;
}

static int lo_up(sw_error *e) {
  cleanup_fd int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sw_fail(e, errno, "socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) return sw_fail(e, errno, "get lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) return sw_fail(e, errno, "bring lo up");
  return 0;
}

int rootfs_setup(const struct container_spec *s, sw_error *e) {
  int r;
  /* 1. Nothing we mount may propagate back to the host, and pivot_root refuses shared mounts:
   *    make the whole tree private before the first mount. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return sw_fail(e, errno, "make / rprivate");

  cleanup_free char *target = xasprintf("%s/rootfs", s->state_dir);
  if (mkdir(target, 0755) < 0 && errno != EEXIST) return sw_fail(e, errno, "mkdir %s", target);

  /* 2. The root file system. pivot_root needs new_root to be a mount point: overlay is one; a
   *    plain directory is bound onto the mount point. */
  if (s->rootfs) {
    if (mount(s->rootfs, target, NULL, MS_BIND | MS_REC, NULL) < 0) return sw_fail(e, errno, "bind rootfs %s", s->rootfs);
  } else if ((r = mount_overlay(s, target, e)) < 0) {
    return r;
  }
  /* The prepared fuse fds are mounted or unused now; closing the go pipe ends an unused daemon. */
  if (s->fuse_fd >= 0) close(s->fuse_fd);
  if (s->fuse_go >= 0) close(s->fuse_go);

  /* 3. Everything below is opened relative to the new root with RESOLVE_IN_ROOT. Open the fd
   *    only now, so it refers to the mounted root and not to the directory under it. */
  cleanup_fd int rootfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return sw_fail(e, errno, "open %s", target);

  /* 4. /proc for the new pid namespace (we are its pid 1), then /dev, then /sys. */
  if ((r = mount_at(rootfd, "/proc", CREATE_DIR, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, e)) < 0) return r;
  if ((r = setup_dev(rootfd, s, e)) < 0) return r;
  if ((r = setup_sys(rootfd, e)) < 0) return r;

  /* 5. The spec's mounts (volumes, tmpfs, /etc/hosts & co) after the defaults, so they win. Host
   *    sources are still reachable because we have not pivoted yet. */
  for (size_t i = 0; i < s->nmounts; i++)
    if ((r = spec_mount(rootfd, &s->mounts[i], e)) < 0) return r;

  /* 6. Masks and read-only paths last: they must cover what /proc and /sys just exposed. */
  for (size_t i = 0; i < sizeof masked_paths / sizeof *masked_paths; i++)
    if ((r = mask_path(rootfd, masked_paths[i], e)) < 0) return r;
  for (size_t i = 0; i < sizeof readonly_paths / sizeof *readonly_paths; i++)
    if ((r = readonly_path(rootfd, readonly_paths[i], e)) < 0) return r;

  /* 7. pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then drops
   *    every host mount from this namespace. */
  if (fchdir(rootfd) < 0) return sw_fail(e, errno, "chdir into rootfs");
  if (syscall(SYS_pivot_root, ".", ".") < 0) return sw_fail(e, errno, "pivot_root");
  if (mount(NULL, ".", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return sw_fail(e, errno, "make old root private");
  if (umount2(".", MNT_DETACH) < 0) return sw_fail(e, errno, "detach old root");
  if (chdir("/") < 0) return sw_fail(e, errno, "chdir /");

  if (s->hostname && *s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
    return sw_fail(e, errno, "sethostname %s", s->hostname);
  /* A prepared namespace (pool_netns) has lo up already. */
  if (s->net != NET_HOST && s->pool_netns <= 0 && (r = lo_up(e)) < 0) return r;
  if ((r = mkdir_p(s->proc.cwd, 0755)) < 0) return sw_fail(e, -r, "create working directory %s", s->proc.cwd);
  return 0;
}

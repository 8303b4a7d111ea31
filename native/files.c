/* Workers that touch files inside the user namespace: CHOWN_LIST, RMTREE, PUT, GET. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "exec.h"
#include "files.h"
#include "spec.h"
#include "worker.h"

/* Opens relpath below rootfd one component at a time with O_NOFOLLOW: a symlink anywhere in the
 * path (even in the middle) fails with ENOTDIR/ELOOP instead of leading outside the root. */
static int walk_nofollow(int rootfd, const char *relpath) {
  cleanup_free char *copy = xstrdup(relpath);
  int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return -errno;
  char *save = NULL;
  for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
    if (!strcmp(c, ".")) continue;
    if (!strcmp(c, "..")) {
      close(cur);
      return -EINVAL;
    }
    int next = openat(cur, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    close(cur);
    if (next < 0) return -err;
    cur = next;
  }
  return cur;
}

void chown_list_worker(int out, uint32_t reqid, void *arg) {
  struct path_job *j = arg;
  sw_error e = {0};
  if (!j->root || !j->list) {
    sw_fail(&e, EINVAL, "chown list: root and list file are required");
    worker_fail(out, reqid, &e);
  }
  cleanup_fd int lfd = open(j->list, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (lfd < 0 || fstat(lfd, &st) < 0) {
    sw_fail(&e, errno, "open %s", j->list);
    worker_fail(out, reqid, &e);
  }
  char *data = xmalloc((size_t)st.st_size + 1);
  ssize_t n = read_full(lfd, data, (size_t)st.st_size);
  if (n < 0) {
    sw_fail(&e, (int)-n, "read %s", j->list);
    worker_fail(out, reqid, &e);
  }
  data[n] = 0;
  cleanup_fd int rootfd = open(j->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    sw_fail(&e, errno, "open %s", j->root);
    worker_fail(out, reqid, &e);
  }
  char *p = data, *end = data + n;
  while (p < end) {
    char *f[4];
    for (int i = 0; i < 4; i++) {
      char *z = memchr(p, 0, (size_t)(end - p));
      if (!z) {
        sw_fail(&e, EINVAL, "chown list: truncated record");
        worker_fail(out, reqid, &e);
      }
      f[i] = p;
      p = z + 1;
    }
    uid_t uid = (uid_t)strtoul(f[1], NULL, 10);
    gid_t gid = (gid_t)strtoul(f[2], NULL, 10);
    mode_t mode = (mode_t)strtoul(f[3], NULL, 8);
    cleanup_fd int fd = walk_nofollow(rootfd, f[0]);
    if (fd < 0) {
      sw_fail(&e, -fd, "chown %s: open", f[0]);
      worker_fail(out, reqid, &e);
    }
    struct stat fs;
    if (fstat(fd, &fs) < 0 || fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
      sw_fail(&e, errno, "chown %s to %u:%u", f[0], (unsigned)uid, (unsigned)gid);
      worker_fail(out, reqid, &e);
    }
    /* chown clears setuid/setgid bits: restore the mode (symlinks have none to restore). */
    if (!S_ISLNK(fs.st_mode)) {
      char pp[64];
      snprintf(pp, sizeof pp, "/proc/self/fd/%d", fd);
      if (chmod(pp, mode & 07777) < 0) {
        sw_fail(&e, errno, "chmod %s", f[0]);
        worker_fail(out, reqid, &e);
      }
    }
  }
  free(data);
  worker_ok(out, reqid);
}

void rmtree_worker(int out, uint32_t reqid, void *arg) {
  struct path_job *j = arg;
  sw_error e = {0};
  if (!j->path || j->path[0] != '/') {
    sw_fail(&e, EINVAL, "rmtree: path must be absolute");
    worker_fail(out, reqid, &e);
  }
  int r = rmtree(j->path);
  if (r < 0) {
    sw_fail(&e, -r, "rmtree %s", j->path);
    worker_fail(out, reqid, &e);
  }
  worker_ok(out, reqid);
}

/* The file a PUT writes, as a regular file: whatever else the container left at the path (a FIFO,
 * which would block open() until a reader came and hang the copy for good, a socket, a device) is
 * replaced, as Docker's copy replaces it. O_NONBLOCK so no open() ever waits; the second attempt is
 * O_EXCL, so a running container that plants the path again between unlink and open makes the PUT
 * fail instead of writing into whatever it planted. Returns an fd or -errno. */
static int open_put_target(const char *path, mode_t mode) {
  for (int attempt = 0; attempt < 2; attempt++) {
    struct stat st;
    int fd = -1;
    if (attempt == 0 && lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
      errno = ENXIO; /* not regular: replace it without opening it (a device's open can act) */
    } else {
      fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (attempt ? O_EXCL : 0), mode);
    }
    if (fd >= 0) {
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        int flags = fcntl(fd, F_GETFL);
        if (ftruncate(fd, 0) < 0 || flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
          int e = errno;
          close(fd);
          return -e;
        }
        return fd;
      }
      close(fd);
      errno = ENXIO;
    }
    /* ENXIO: a FIFO without a reader, or what was refused above: replaced. Anything else (ELOOP for
     * a symlink, as before; EISDIR, EACCES, ENOSPC…) is the answer. */
    if (errno != ENXIO) return -errno;
    if (attempt == 0 && unlink(path) < 0 && errno != ENOENT) return -errno;
  }
  return -EEXIST;
}

/* Block size of the hole check: a zero block of a file is skipped, not written, so a sparse file
 * copied in stays sparse (copyFrom and the layer unpacker keep holes the same way) and a few MiB of
 * input can no longer become GiBs of zeros in the container's upper dir. */
#define PUT_BLOCK 4096

static bool all_zero(const uint8_t *p, size_t n) { return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0); }

/* Writes n bytes at *off, leaving zero blocks as holes. Returns 0 or -errno. */
static int put_write(int fd, const uint8_t *p, size_t n, uint64_t *off) {
  for (size_t at = 0; at < n;) {
    size_t len = n - at < PUT_BLOCK ? n - at : PUT_BLOCK;
    if (!all_zero(p + at, len)) {
      for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(fd, p + at + done, len - done, (off_t)(*off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        done += (size_t)w;
      }
    }
    at += len;
    *off += len;
  }
  return 0;
}

/* A PUT of a file that failed after its target was opened: the partly written file goes (a full disk
 * must not leave a file that looks copied), and a lack of space says what is free where it happened. */
__attribute__((noreturn)) static void put_file_fail(int out, uint32_t reqid, int fd, const char *path, int err, const char *what) {
  sw_error e = {0};
  struct statvfs sv;
  if ((err == ENOSPC || err == EDQUOT) && fd >= 0 && fstatvfs(fd, &sv) == 0) {
    unsigned long long unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    sw_fail(&e, err, "put file %s: %s (%llu MiB free of %llu MiB); the partly written file was removed", path, what,
            (unsigned long long)sv.f_bavail * unit >> 20, (unsigned long long)sv.f_blocks * unit >> 20);
  } else {
    sw_fail(&e, err, "put file %s: %s", path, what);
  }
  if (fd >= 0) unlink(path);
  worker_fail(out, reqid, &e);
}

void put_worker(int out, uint32_t reqid, void *arg) {
  struct path_job *j = arg;
  sw_error e = {0};
  uint64_t type = 1, mode = 0644, uid = 0, gid = 0, mtime = 0, want = 0;
  bool has_mtime = spec_get_uint(j->body, j->body_len, T_MTIME, &mtime);
  /* T_SIZE: the length Node announced; fewer or more bytes (the host file changed while it was read)
   * fail the PUT instead of leaving a cut or grown file. */
  bool has_size = spec_get_uint(j->body, j->body_len, T_SIZE, &want);
  spec_get_uint(j->body, j->body_len, T_TYPE, &type);
  spec_get_uint(j->body, j->body_len, T_MODE, &mode);
  spec_get_uint(j->body, j->body_len, T_UID, &uid);
  spec_get_uint(j->body, j->body_len, T_GID, &gid);
  const uint8_t *data = NULL;
  size_t dlen = 0;
  sw_tlv_iter it;
  sw_tlv t;
  tlv_iter_init(&it, j->body, j->body_len);
  while (tlv_next(&it, &t) > 0)
    if (t.tag == T_DATA) data = t.val, dlen = t.len;
  cleanup_free char *link = spec_get_str(j->body, j->body_len, T_LINK);
  if (!j->path || j->path[0] != '/') {
    sw_fail(&e, EINVAL, "put: path must be absolute");
    worker_fail(out, reqid, &e);
  }
  /* After joining the mount namespace our root is the container's: every path, symlinks
   * included, resolves inside the container. */
  if (join_container(false, &e) < 0) worker_fail(out, reqid, &e);
  if (chdir("/") < 0) {
    sw_fail(&e, errno, "chdir /");
    worker_fail(out, reqid, &e);
  }
  cleanup_free char *dir = xstrdup(j->path);
  char *parent = dirname(dir);
  int r = mkdir_p(parent, 0755);
  if (r < 0) {
    sw_fail(&e, -r, "put: create %s", parent);
    worker_fail(out, reqid, &e);
  }
  struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)mtime}};
  if (type == 3) {
    if (!link) {
      sw_fail(&e, EINVAL, "put %s: symlink without target", j->path);
      worker_fail(out, reqid, &e);
    }
    unlink(j->path);
    if (symlink(link, j->path) < 0 || lchown(j->path, (uid_t)uid, (gid_t)gid) < 0) {
      sw_fail(&e, errno, "put symlink %s", j->path);
      worker_fail(out, reqid, &e);
    }
    if (has_mtime) utimensat(AT_FDCWD, j->path, times, AT_SYMLINK_NOFOLLOW);
    worker_ok(out, reqid);
  }
  if (type == 2) {
    if ((mkdir(j->path, (mode_t)mode & 07777) < 0 && errno != EEXIST) || lchown(j->path, (uid_t)uid, (gid_t)gid) < 0 ||
        chmod(j->path, (mode_t)mode & 07777) < 0) {
      sw_fail(&e, errno, "put dir %s", j->path);
      worker_fail(out, reqid, &e);
    }
    if (has_mtime) utimensat(AT_FDCWD, j->path, times, 0);
    worker_ok(out, reqid);
  }
  cleanup_fd int fd = open_put_target(j->path, (mode_t)mode & 0777);
  if (fd < 0) {
    sw_fail(&e, -fd, "put file %s", j->path);
    worker_fail(out, reqid, &e);
  }
  uint64_t off = 0;
  if (dlen && (r = put_write(fd, data, dlen, &off)) < 0) put_file_fail(out, reqid, fd, j->path, -r, "write");
  if (j->chunked) {
    /* The content streams in on fd 0 (DATA frames relayed by the keeper) until EOF. Whole blocks are
     * read (short only at EOF), so every block the hole check sees starts at a block boundary. */
    static uint8_t buf[1 << 18];
    for (;;) {
      ssize_t n = read_full(0, buf, sizeof buf);
      if (n < 0) put_file_fail(out, reqid, fd, j->path, (int)-n, "read content");
      if (n == 0) break;
      if ((r = put_write(fd, buf, (size_t)n, &off)) < 0) put_file_fail(out, reqid, fd, j->path, -r, "write");
      if ((size_t)n < sizeof buf) break;
    }
  }
  if (has_size && off != want) {
    put_file_fail(out, reqid, fd, j->path, EIO, off < want ? "the content ended early" : "more content than announced");
  }
  /* The size, for a file that ends in a hole (nothing was written there). */
  if (ftruncate(fd, (off_t)off) < 0) put_file_fail(out, reqid, fd, j->path, errno, "set the size");
  if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0 || fchmod(fd, (mode_t)mode & 07777) < 0) put_file_fail(out, reqid, fd, j->path, errno, "set owner and mode");
  if (has_mtime) futimens(fd, times);
  /* Closed before the answer, not at exit: a START or exec of this file right after the OK would otherwise race
   * this worker's exit and fail with ETXTBSY (a writer still holds the file open). Some file systems report
   * a lack of space only here. */
  if (close(steal_fd(&fd)) < 0) {
    int err = errno;
    if (err == ENOSPC || err == EDQUOT) unlink(j->path);
    sw_fail(&e, err, "put file %s: close", j->path);
    worker_fail(out, reqid, &e);
  }
  worker_ok(out, reqid);
}

/* GET sent with CHUNKED: every GET_ENTRY and GET_DATA frame costs one credit (a byte on fd 0); Node
 * grants SW_WINDOW up front (and a few more once the first frame arrives) and one per frame it has
 * taken, so Node holds a bounded number of frames of a GET whatever the container put there: files of
 * up to one chunk travel inside their GET_ENTRY, and a tree of many of them must not flood Node. */
static bool get_streaming;
static unsigned get_credits = SW_WINDOW;

/* Waits for one credit; false when Node cancelled (EOF on fd 0) or the pipe failed. */
static bool take_credit(void) {
  while (get_credits == 0) {
    uint8_t tokens[64];
    ssize_t n = read(0, tokens, sizeof tokens);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    get_credits += (unsigned)n;
  }
  get_credits--;
  return true;
}

/* Sends exactly `size` bytes of fd as GET_DATA frames: Node announced that size already (a tar
 * header needs it), so a file that shrinks meanwhile fails the GET; growth past it is not sent. */
static void send_content(int out, uint32_t reqid, int fd, uint64_t size, const char *rel) {
  uint8_t *chunk = xmalloc(SW_CHUNK);
  for (uint64_t off = 0; off < size;) {
    size_t want = size - off < SW_CHUNK ? (size_t)(size - off) : SW_CHUNK;
    ssize_t n = read_full(fd, chunk, want);
    sw_error e;
    if (n < 0 || (size_t)n != want) {
      sw_fail(&e, n < 0 ? (int)-n : EAGAIN, n < 0 ? "get %s: read" : "get %s: the file shrank while it was read", rel);
      worker_fail(out, reqid, &e);
    }
    if (!take_credit()) {
      sw_fail(&e, ECANCELED, "get %s: cancelled by the reader", rel);
      worker_fail(out, reqid, &e);
    }
    sw_buf b = {0};
    buf_begin(&b, FR_GET_DATA, reqid);
    buf_put(&b, T_DATA, chunk, (uint32_t)n);
    worker_send(out, &b);
    buf_free(&b);
    off += (uint64_t)n;
  }
  free(chunk);
}

static void send_entry(int out, uint32_t reqid, const char *full, const char *rel, const struct stat *st) {
  if (get_streaming && !take_credit()) {
    sw_error e;
    sw_fail(&e, ECANCELED, "get %s: cancelled by the reader", rel);
    worker_fail(out, reqid, &e);
  }
  sw_buf b = {0};
  buf_begin(&b, FR_GET_ENTRY, reqid);
  uint8_t type = S_ISDIR(st->st_mode) ? 2 : S_ISLNK(st->st_mode) ? 3 : S_ISREG(st->st_mode) ? 1 : 0;
  buf_put_u8(&b, T_TYPE, type);
  buf_put_str(&b, T_RELPATH, rel);
  buf_put_u32(&b, T_MODE, st->st_mode & 07777);
  buf_put_u32(&b, T_UID, st->st_uid);
  buf_put_u32(&b, T_GID, st->st_gid);
  buf_put_u64(&b, T_MTIME, (uint64_t)st->st_mtim.tv_sec);
  if (type == 3) {
    char target[4096];
    ssize_t n = readlink(full, target, sizeof target - 1);
    if (n >= 0) {
      target[n] = 0;
      buf_put_str(&b, T_LINK, target);
    }
  } else if (type == 1) {
    /* The container may have swapped the file for a FIFO or device since the lstat: O_NONBLOCK
     * keeps open() from waiting for a writer, and what was opened must still be a regular file. */
    cleanup_fd int fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat fst;
    if (fd < 0 || fstat(fd, &fst) < 0) {
      sw_error e;
      sw_fail(&e, errno, "get %s: open", rel);
      worker_fail(out, reqid, &e);
    }
    if (!S_ISREG(fst.st_mode)) {
      sw_error e;
      sw_fail(&e, EAGAIN, "get %s: no longer a regular file", rel);
      worker_fail(out, reqid, &e);
    }
    uint64_t size = (uint64_t)fst.st_size;
    buf_put_u64(&b, T_SIZE, size);
    if (size > SW_CHUNK) {
      /* Above one chunk the content follows as GET_DATA frames, paced by Node's credits. */
      if (!get_streaming) {
        sw_error e;
        sw_fail(&e, EFBIG, "get %s: files above %u bytes need a CHUNKED request", rel, SW_CHUNK);
        worker_fail(out, reqid, &e);
      }
      buf_put_u8(&b, T_CHUNKED, 1);
      worker_send(out, &b);
      buf_free(&b);
      send_content(out, reqid, fd, size, rel);
      return;
    }
    char *data = xmalloc(size + 1);
    ssize_t n = read_full(fd, data, size);
    if (n < 0 || (uint64_t)n != size) {
      sw_error e;
      sw_fail(&e, n < 0 ? (int)-n : EAGAIN, n < 0 ? "get %s: read" : "get %s: the file shrank while it was read", rel);
      worker_fail(out, reqid, &e);
    }
    buf_put(&b, T_DATA, data, (uint32_t)n);
    free(data);
  }
  worker_send(out, &b);
  buf_free(&b);
}

static void get_tree(int out, uint32_t reqid, const char *full, const char *rel, int depth) {
  struct stat st;
  if (lstat(full, &st) < 0) return;
  send_entry(out, reqid, full, rel, &st);
  if (!S_ISDIR(st.st_mode) || depth > 256) return;
  DIR *d = opendir(full);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    cleanup_free char *cf = xasprintf("%s/%s", full, de->d_name);
    cleanup_free char *cr = xasprintf("%s/%s", rel, de->d_name);
    get_tree(out, reqid, cf, cr, depth + 1);
  }
  closedir(d);
}

void get_worker(int out, uint32_t reqid, void *arg) {
  struct path_job *j = arg;
  sw_error e = {0};
  if (!j->path || j->path[0] != '/') {
    sw_fail(&e, EINVAL, "get: path must be absolute");
    worker_fail(out, reqid, &e);
  }
  get_streaming = j->chunked;
  if (join_container(false, &e) < 0) worker_fail(out, reqid, &e);
  struct stat st;
  /* The final component is not followed (like `docker cp`); parents resolve in the container. */
  if (lstat(j->path, &st) < 0) {
    sw_fail_k(&e, EK_NOT_FOUND, errno, "get %s", j->path);
    worker_fail(out, reqid, &e);
  }
  cleanup_free char *copy = xstrdup(j->path);
  const char *base = basename(copy);
  uint64_t top_only = 0;
  spec_get_uint(j->body, j->body_len, T_TOP_ONLY, &top_only);
  /* Top only: a reader of one small file (exec's /etc/passwd) must not be sent a whole tree the
   * container put in its place. */
  if (top_only) send_entry(out, reqid, j->path, *base ? base : ".", &st);
  else get_tree(out, reqid, j->path, *base ? base : ".", 0);
  worker_ok(out, reqid);
}

#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* Why this exists: Node removes a container's cgroup when it removes the container. A Node killed
 * with SIGKILL never does; its keeper still runs its teardown (EOF on stdin), and a keeper killed
 * outright is swept by the next one. Both come here, so no empty cgroup outlives its keeper. */

static bool listed_path_ok(const char *p) {
  if (strncmp(p, "/sys/fs/cgroup/", 15) != 0) return false;
  if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//")) return false;
  size_t n = strlen(p);
  if (n >= 3 && !strcmp(p + n - 3, "/..")) return false;
  return strstr(p, "/slipway/") || strstr(p, "/slipway.slice/");
}

static void remove_cgroup(const char *p) {
  /* The container's processes are gone once its init is reaped; the kernel may still be
   * releasing the last one for a moment (EBUSY). */
  for (int i = 0; i < 20; i++) {
    if (rmdir(p) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  logmsg("cannot remove cgroup %s: %s", p, strerror(errno));
}

static void remove_listed(int cdirfd) {
  cleanup_fd int fd = openat(cdirfd, "cgroups", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) return;
  char buf[65537];
  ssize_t n = read_full(fd, buf, (size_t)st.st_size);
  if (n <= 0) return;
  buf[n] = 0;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    if (listed_path_ok(line)) remove_cgroup(line);
}

void cgroups_remove_below(int keeper_dirfd) {
  int dfd = openat(keeper_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    cleanup_fd int cfd = openat(keeper_dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd >= 0) remove_listed(cfd);
  }
  closedir(d);
}

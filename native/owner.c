#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* Field 22 of /proc/<pid>/stat (clock ticks after boot), or 0 when unreadable. The comm field may
 * hold spaces and parentheses, so counting starts after the last ')'. */
static unsigned long long start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = TEMP_FAILURE_RETRY(read(fd, buf, sizeof buf - 1));
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  /* After ')' come fields 3 (state) .. 22 (starttime): skip 19 separators. */
  for (int i = 0; i < 20 && p; i++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

int owner_open(const char *spec, int *pid_out) {
  char *end;
  errno = 0;
  long pid = strtol(spec, &end, 10);
  if (errno || pid <= 1 || pid > 0x3fffffff || (*end && *end != ':')) return -EINVAL;
  unsigned long long want = 0;
  if (*end == ':') {
    const char *s = end + 1;
    errno = 0;
    want = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -EINVAL;
  }
  *pid_out = (pid_t)pid;
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return -errno;
  /* The pidfd pins the process it was opened for; if the pid was reused before that, the start
   * time read now is the newcomer's. */
  if (want && start_time((pid_t)pid) != want) {
    close(fd);
    return -ESRCH;
  }
  return fd;
}

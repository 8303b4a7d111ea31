#include "logs.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

int log_open(struct log_file *l, const char *path, uint64_t max) {
  memset(l, 0, sizeof *l);
  l->fd = -1;
  if (!path) return 0;
  l->path = xstrdup(path);
  l->max = max ? max : 16ULL << 20;
  l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (l->fd < 0) return -errno;
  struct stat st;
  if (fstat(l->fd, &st) == 0) l->size = (uint64_t)st.st_size;
  return 0;
}

static void rotate(struct log_file *l) {
  cleanup_free char *old = xasprintf("%s.1", l->path);
  close(l->fd);
  if (rename(l->path, old) < 0) logmsg("rotate %s: %s", l->path, strerror(errno));
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  l->size = 0;
}

static void emit(struct log_file *l, int stream, bool partial, const char *text, size_t n) {
  if (l->fd < 0) return;
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char head[96];
  int hl = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec, stream ? "stderr" : "stdout",
                    partial ? 'P' : 'F');
  size_t total = (size_t)hl + n + 1;
  if (l->size > 0 && l->size + total > l->max) rotate(l);
  if (l->fd < 0) return;
  /* One write per line: O_APPEND keeps lines whole even if a reader truncates concurrently. */
  char *line = xmalloc(total);
  memcpy(line, head, (size_t)hl);
  memcpy(line + hl, text, n);
  line[total - 1] = '\n';
  if (write_all(l->fd, line, total) == 0) l->size += total;
  free(line);
}

void log_feed(struct log_file *l, int stream, const char *data, size_t n) {
  if (l->fd < 0) return;
  for (size_t i = 0; i < n;) {
    const char *nl = memchr(data + i, '\n', n - i);
    size_t chunk = nl ? (size_t)(nl - (data + i)) : n - i;
    size_t room = LOG_MAX_LINE - l->s[stream].len;
    if (chunk >= room) {
      /* The line would exceed 16 KiB: flush what fits as a partial line and continue. */
      l->s[stream].buf = xrealloc(l->s[stream].buf, LOG_MAX_LINE);
      memcpy(l->s[stream].buf + l->s[stream].len, data + i, room);
      emit(l, stream, true, l->s[stream].buf, LOG_MAX_LINE);
      l->s[stream].len = 0;
      i += room;
      continue;
    }
    if (nl) {
      if (l->s[stream].len) {
        l->s[stream].buf = xrealloc(l->s[stream].buf, l->s[stream].len + chunk);
        memcpy(l->s[stream].buf + l->s[stream].len, data + i, chunk);
        emit(l, stream, false, l->s[stream].buf, l->s[stream].len + chunk);
        l->s[stream].len = 0;
      } else {
        emit(l, stream, false, data + i, chunk);
      }
      i += chunk + 1;
    } else {
      l->s[stream].buf = xrealloc(l->s[stream].buf, l->s[stream].len + chunk);
      memcpy(l->s[stream].buf + l->s[stream].len, data + i, chunk);
      l->s[stream].len += chunk;
      i += chunk;
    }
  }
}

void log_eof(struct log_file *l, int stream) {
  if (l->s[stream].len) emit(l, stream, true, l->s[stream].buf, l->s[stream].len);
  l->s[stream].len = 0;
}

void log_close(struct log_file *l) {
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
  free(l->path);
  free(l->s[0].buf);
  free(l->s[1].buf);
  memset(l, 0, sizeof *l);
  l->fd = -1;
}

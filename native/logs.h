/* Container logs in CRI format: "<RFC3339Nano UTC> <stdout|stderr> <F|P> <text>\n", rotated once. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define LOG_MAX_LINE (16 * 1024)

struct log_file {
  int fd;
  char *path;
  uint64_t max, size;
  struct {
    char *buf;
    size_t len;
  } s[2]; /* 0 stdout, 1 stderr: the unterminated tail of each stream */
};

int log_open(struct log_file *l, const char *path, uint64_t max); /* 0 or -errno */
void log_feed(struct log_file *l, int stream, const char *data, size_t n);
/* The stream ended: write what is left as a partial (P) line. */
void log_eof(struct log_file *l, int stream);
void log_close(struct log_file *l);

/* Small shared helpers: fatal errors, cleanup attributes, errors-as-data, file utilities. */
#pragma once
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define NORETURN __attribute__((noreturn))
#define PRINTF(a, b) __attribute__((format(printf, a, b)))

/* One-line fatal errors in bubblewrap's shape: "slipway-helper: <what>: <strerror>". */
void die(const char *fmt, ...) NORETURN PRINTF(1, 2);
void die_with_error(const char *fmt, ...) NORETURN PRINTF(1, 2);
void die_oom(void) NORETURN;
/* Diagnostic line on stderr (Node forwards it to debug('slipway:keeper')). */
void logmsg(const char *fmt, ...) PRINTF(1, 2);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);

static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_fd __attribute__((cleanup(cleanup_closep)))

static inline void *steal_pointer(void *pp) {
  void **p = pp;
  void *v = *p;
  *p = NULL;
  return v;
}
static inline int steal_fd(int *fd) {
  int v = *fd;
  *fd = -1;
  return v;
}

#ifndef TEMP_FAILURE_RETRY
#define TEMP_FAILURE_RETRY(expr)                                                                   \
  ({                                                                                               \
    long _r;                                                                                       \
    do _r = (long)(expr);                                                                          \
    while (_r == -1L && errno == EINTR);                                                           \
    _r;                                                                                            \
  })
#endif

/*
 * Errors as data (crun's pattern): a failing step returns -errno and records which stage failed,
 * so the error can cross fork() and reach Node as {stage, errno}.
 */
typedef struct {
  int errnum;
  int kind; /* enum sw_err_kind (protocol.h); 0: the request's default */
  char stage[512];
} sw_error;

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t monotonic_ms(void);

int sw_fail(sw_error *e, int errnum, const char *fmt, ...) PRINTF(3, 4);
/* sw_fail that also says what kind of failure it is (an enum sw_err_kind). */
int sw_fail_k(sw_error *e, int kind, int errnum, const char *fmt, ...) PRINTF(4, 5);

int write_all(int fd, const void *buf, size_t len);     /* 0 or -errno */
/* One message of `len` bytes on a unix socket, with `pass_fd` as SCM_RIGHTS when >= 0 (MSG_NOSIGNAL). 0 or -errno. */
int send_with_fd(int sock, const void *buf, size_t len, int pass_fd);
ssize_t read_full(int fd, void *buf, size_t len);       /* bytes read (short only on EOF) or -errno */
int mkdir_p(const char *path, mode_t mode);              /* 0 or -errno */
int write_file(const char *path, const char *content);   /* 0 or -errno */
int rmtree(const char *path);                            /* 0 or -errno; never follows symlinks */
int rmtree_at(int dirfd, const char *name);
int set_nonblock(int fd, bool on);
/* TCP_CONGESTION "reno" on a socket whose path is loopback only (see util.c); errors ignored. */
void tcp_loopback_cc(int fd);

/* The process's argv memory, so the container init can show up as "slipway-init" in ps. */
extern char *sw_argv_area;
extern size_t sw_argv_len;
void set_process_title(const char *title);

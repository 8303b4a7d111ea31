// netbench: the two ends of the published-port benchmark, as one static binary that runs inside any
// container or namespace (the busybox fixture has no libc).
//
//   netbench serve SINK_PORT HELLO_PORT   SINK_PORT discards what it reads until EOF, then closes;
//                                         HELLO_PORT writes one byte ("x") to each connection and closes.
//   netbench send HOST PORT BYTES         sends BYTES, half-closes, waits for the sink's close; prints
//                                         the seconds from connect() to that close.
//   netbench connect HOST PORT COUNT      COUNT times: socket + connect + read the hello byte + close;
//                                         prints each in microseconds, one per line.
//
// The hello byte makes a connection count only when it has reached the server inside the container,
// not when a forwarder on the host has accepted it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)

static void die(const char *what) {
  fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 512) < 0) die("listen");
  return fd;
}

static int connect_to(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "netbench: bad address %s\n", host); exit(2); }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  return fd;
}

static void sink_loop(int lfd) {
  static char buf[BUF];
  for (;;) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) { if (errno == EINTR || errno == ECONNABORTED) continue; die("accept"); }
    pid_t p = fork();
    if (p == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      ssize_t n;
      while ((n = read(c, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {}
      close(c);
      _exit(0);
    }
    close(c);
  }
}

static void hello_loop(int lfd) {
  for (;;) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) { if (errno == EINTR || errno == ECONNABORTED) continue; die("accept"); }
    (void)!write(c, "x", 1);
    close(c);
  }
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "serve") == 0) {
    signal(SIGCHLD, SIG_IGN); // sink children reap themselves
    signal(SIGPIPE, SIG_IGN);
    int sfd = listen_on(atoi(argv[2])), hfd = listen_on(atoi(argv[3]));
    fprintf(stderr, "netbench: listening on %s and %s\n", argv[2], argv[3]);
    pid_t p = fork();
    if (p < 0) die("fork");
    if (p == 0) { prctl(PR_SET_PDEATHSIG, SIGKILL); close(sfd); hello_loop(hfd); } // dies with the server
    close(hfd);
    sink_loop(sfd);
  } else if (argc == 5 && strcmp(argv[1], "send") == 0) {
    static char buf[BUF];
    memset(buf, 'a', sizeof buf);
    long long total = atoll(argv[4]), left = total;
    signal(SIGPIPE, SIG_IGN);
    double t0 = now();
    int fd = connect_to(argv[2], atoi(argv[3]));
    while (left > 0) {
      ssize_t n = write(fd, buf, left < BUF ? (size_t)left : BUF);
      if (n < 0) { if (errno == EINTR) continue; die("write"); }
      left -= n;
    }
    shutdown(fd, SHUT_WR);
    char c;
    while (read(fd, &c, 1) > 0) {}
    double t1 = now();
    close(fd);
    printf("%.9f\n", t1 - t0);
  } else if (argc == 5 && strcmp(argv[1], "connect") == 0) {
    int count = atoi(argv[4]);
    for (int i = 0; i < count; i++) {
      double t0 = now();
      int fd = connect_to(argv[2], atoi(argv[3]));
      char c;
      ssize_t n = read(fd, &c, 1);
      close(fd);
      double t1 = now();
      if (n != 1 || c != 'x') { fprintf(stderr, "netbench: connection %d got no hello byte\n", i); return 1; }
      printf("%.3f\n", (t1 - t0) * 1e6);
    }
  } else {
    fprintf(stderr, "usage: netbench serve SINK_PORT HELLO_PORT | send HOST PORT BYTES | connect HOST PORT COUNT\n");
    return 2;
  }
  return 0;
}

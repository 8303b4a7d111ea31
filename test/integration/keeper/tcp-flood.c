/* Test fixture: the ends of a TCP flood, for the port forwarder's fairness and backpressure tests.
 *   tcp-flood sink PORT        accepts connections (one at a time) and reads each to EOF, 1 MiB at a time
 *   tcp-flood source PORT FILE accepts connections (one at a time) and writes zeros to each until a write
 *                              fails; after each write, FILE holds the bytes written to this connection
 *                              so far (so a test can see the writer block)
 *   tcp-flood halfclose PORT FILE  per connection: writes "hello", shuts its side down, reads to EOF;
 *                              then FILE holds the bytes read
 *   tcp-flood send HOST PORT   connects and writes zeros until the write fails; prints a line per 64 MiB sent
 * Static, so it runs in the busybox fixture. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (1024 * 1024)
static char buf[BUF];

static int listen_on(const char *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
    perror("tcp-flood: listen");
    exit(1);
  }
  return fd;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && !strcmp(argv[1], "sink")) {
    int l = listen_on(argv[2]);
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c < 0) continue;
      while (read(c, buf, BUF) > 0) {}
      close(c);
    }
  }
  if (argc == 4 && !strcmp(argv[1], "source")) {
    int l = listen_on(argv[2]), c = -1;
    long long total = 0;
    for (;;) {
      if (c < 0) {
        if ((c = accept(l, NULL, NULL)) < 0) continue;
        total = 0;
      }
      ssize_t n = write(c, buf, BUF);
      if (n <= 0) {
        close(c);
        c = -1;
        continue;
      }
      total += n;
      char line[32];
      int len = snprintf(line, sizeof line, "%lld\n", total);
      int f = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (f >= 0) {
        (void)!write(f, line, (size_t)len);
        close(f);
      }
    }
  }
  if (argc == 4 && !strcmp(argv[1], "halfclose")) {
    /* Per connection: "hello", shutdown(SHUT_WR), read to EOF, then FILE holds the bytes read. */
    int l = listen_on(argv[2]);
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c < 0) continue;
      (void)!write(c, "hello", 5);
      shutdown(c, SHUT_WR);
      long long total = 0;
      ssize_t n;
      while ((n = read(c, buf, BUF)) > 0) total += n;
      close(c);
      char line[32];
      int len = snprintf(line, sizeof line, "%lld\n", total);
      int f = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (f >= 0) {
        (void)!write(f, line, (size_t)len);
        close(f);
      }
    }
  }
  if (argc == 4 && !strcmp(argv[1], "send")) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
    if (fd < 0 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      perror("tcp-flood: connect");
      return 1;
    }
    long long total = 0, mark = 0;
    for (;;) {
      ssize_t n = write(fd, buf, BUF);
      if (n <= 0) return 0;
      total += n;
      if (total - mark >= 64 * BUF) {
        mark = total;
        printf("%lld\n", total);
        fflush(stdout);
      }
    }
  }
  fprintf(stderr, "usage: tcp-flood sink PORT | source PORT FILE | halfclose PORT FILE | send HOST PORT\n");
  return 2;
}

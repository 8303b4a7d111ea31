/* Test fixture: a UDP echo server. Each reply is "<source port the server saw>:<datagram>", so a
 * test can tell which forwarder flow a datagram came through. Usage: udp-echo PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    perror("udp-echo: bind");
    return 1;
  }
  printf("listening on %s\n", argv[1]);
  fflush(stdout);
  char in[65536], out[65600];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) continue;
    int h = snprintf(out, sizeof out, "%u:", (unsigned)ntohs(from.sin_port));
    memcpy(out + h, in, (size_t)n);
    sendto(fd, out, (size_t)h + (size_t)n, 0, (struct sockaddr *)&from, fl);
  }
}

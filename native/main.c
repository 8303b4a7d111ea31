/* slipway-helper: the keeper (`slipway-helper keeper <state-root>`) and `version`. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "keeper.h"
#include "protocol.h"

#ifndef SW_BUILD_ID
#define SW_BUILD_ID "dev"
#endif

char *sw_argv_area;
size_t sw_argv_len;

int main(int argc, char **argv) {
  sw_argv_area = argv[0];
  sw_argv_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
  if (argc >= 2 && !strcmp(argv[1], "version")) {
    printf("slipway-helper protocol %d build %s\n", SW_PROTOCOL_VERSION, SW_BUILD_ID);
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "keeper")) {
    char *owners[SW_MAX_OWNERS];
    int n = 0;
    bool ok = true;
    for (int i = 3; i < argc; i++) {
      if (strncmp(argv[i], "--watch=", 8) || n == SW_MAX_OWNERS) ok = false;
      else owners[n++] = argv[i] + 8;
    }
    if (ok) keeper_main(argv[2], owners, n);
  }
  fprintf(stderr, "usage: slipway-helper keeper <state-root> [--watch=<pid>[:<starttime>]]... | slipway-helper version\n"
                  "This program is started by the slipway Node package; it is not meant to be run by hand.\n");
  return 2;
}

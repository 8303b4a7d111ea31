/* slipway-helper: the keeper (`slipway-helper keeper <state-root>`) and `version`. */
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
  if (argc == 3 && !strcmp(argv[1], "keeper")) keeper_main(argv[2]);
  fprintf(stderr, "usage: slipway-helper keeper <state-root> | slipway-helper version\n"
                  "This program is started by the slipway Node package; it is not meant to be run by hand.\n");
  return 2;
}

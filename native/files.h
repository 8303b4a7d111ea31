/* Workers that touch files inside the user namespace: CHOWN_LIST, RMTREE, PUT, GET. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct path_job {
  char *root, *path, *list;
  pid_t init_pid;
  const uint8_t *body; /* the request's TLVs (valid in the forked worker) */
  size_t body_len;
  bool chunked; /* PUT: the content arrives on the worker's fd 0; GET: Node's credits for GET_DATA frames do */
};
void chown_list_worker(int out, uint32_t reqid, void *arg);
void rmtree_worker(int out, uint32_t reqid, void *arg);
void put_worker(int out, uint32_t reqid, void *arg);
void get_worker(int out, uint32_t reqid, void *arg);

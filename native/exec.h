/* EXEC: a worker that runs a process inside a running container and streams its output. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"

struct exec_job {
  pid_t init_pid;
  struct proc_spec *proc;
  bool has_stdin; /* the worker's fd 0 is the process's stdin (fed by DATA frames) */
};
/* worker_fn for worker_spawn (with input when has_stdin). */
void exec_worker(int out, uint32_t reqid, void *arg);
/* In a worker of worker_spawn_in(): enters the container's mount namespace (all: every namespace). */
int join_container(bool all, sw_error *e);

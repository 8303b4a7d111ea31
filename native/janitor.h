/*
 * A long-lived child of the keeper that does a removed container's slow cleanup (closing the last
 * fds of its namespaces, which unmounts the whole mount tree; deleting its state dir), so the
 * keeper forks once per janitor instead of once per container and job. Each fork of the keeper and
 * the copy-on-write faults after it were a fifth of its CPU per container (perf, fast9keeper).
 *
 * Started when the keeper starts (again on first use should one die), in the keeper's user namespace, holding nothing of the keeper's but its
 * socket (no Node pipe, published port or lock may outlive the keeper's own close through it), and
 * killed with the keeper (PR_SET_PDEATHSIG). Jobs run in order; each is answered with its cookie.
 * Every submit can fail (no janitor, its queue full): the caller then does the job as before.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct janitor {
  pid_t pid; /* 0: none running (or reaped) */
  int fd;    /* the keeper's end, -1 once closed */
  struct watch w;
  /* A job answered: err 0 or an errno. */
  void (*done)(uint64_t cookie, int err);
  /* A janitor_make_netns answered: the namespace's fd (the callee owns it), or -1 and an errno. */
  void (*netns_done)(uint64_t cookie, int fd, int err);
};

#define JANITOR_INIT(fn) {0, -1, {0}, (fn), NULL}
/* Its name in /proc/<pid>/comm (tests tell it from the keeper's short-lived children by it). */
#define JANITOR_COMM "slipway-janitor"

/* Forks it unless one runs. 0 or -errno. */
int janitor_start(struct janitor *j);

/* Hands fds over (the janitor's copies hold the references): the caller then closes its own and
 * calls janitor_go, so the janitor's close is the last one and pays the teardown. 0 or -errno. */
int janitor_close_fds(struct janitor *j, uint64_t cookie, const int *fds, int n);
void janitor_go(struct janitor *j, uint64_t cookie);
/* Deletes path (rmtree, symlinks never followed). 0 or -errno. */
int janitor_rmtree(struct janitor *j, uint64_t cookie, const char *path);
/* A new network namespace with lo up, made by a short-lived child of the janitor (so owned by the
 * keeper's user namespace, as one a container's clone makes, and held by nothing but the fd sent
 * back). Answered through netns_done. 0 or -errno. */
int janitor_make_netns(struct janitor *j, uint64_t cookie);
/* True when pid was this janitor's: it is gone and its unanswered jobs are the caller's to settle
 * (its fds were closed by its exit). */
bool janitor_reaped(struct janitor *j, pid_t pid);
/* Teardown: no more jobs; waits until the queued ones are done. */
void janitor_finish(struct janitor *j);

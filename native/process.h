/* The last steps before exec, shared by the container's main process and exec'd processes. */
#pragma once
#include "spec.h"

/* Applies rlimits, cwd, groups, ids, capabilities and no_new_privs, then execs argv with PATH
 * lookup in the spec's environment. Returns only on failure: -errno with the stage in *e. */
int process_exec(const struct proc_spec *p, sw_error *e);
/* Restores default dispositions and an empty signal mask (the keeper blocks and ignores some). */
void process_reset_signals(void);

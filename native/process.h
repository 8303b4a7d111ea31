/* The last steps before exec, shared by the container's main process and exec'd processes. */
#pragma once
#include "spec.h"

/* Applies rlimits, cwd, groups, ids, capabilities and no_new_privs, then execs argv with PATH
 * lookup in the spec's environment. Returns only on failure: -errno with the stage in *e. */
int process_exec(const struct proc_spec *p, sw_error *e);
/* init at START, before it forks the container's process: a new session keyring, without
 * no_new_privs the container's seccomp filter (p->filter, if any), and the container's bounding set,
 * each done once for both: the process inherits them (the kernel's translation and JIT of Docker's
 * profile, twice per container, was ~6% of all CPU time per `true`). 0 or -errno. */
int process_prepare_start(const struct proc_spec *p, sw_error *e);
/* process_exec in the child of an init that ran process_prepare_start: keyring, bounding set (and
 * filter, without no_new_privs) inherited. */
int process_exec_started(const struct proc_spec *p, sw_error *e);
/* init after START (and process_prepare_start): no more than the container's capabilities
 * (bounding, effective; inheritable and ambient empty; CAP_KILL kept permitted but not effective for
 * process_kill), no_new_privs and, with no_new_privs, the container's filter. 0 or -errno. */
int process_confine_init(const struct proc_spec *p, sw_error *e);
/* kill(), raising CAP_KILL into the effective set for that call only when the container's set
 * (caps) lacks it and the target is another uid's. 0 or -errno. */
int process_kill(pid_t pid, int sig, uint64_t caps);
/* Restores default dispositions and an empty signal mask (the keeper blocks and ignores some). */
void process_reset_signals(void);
/* Records which signals are not SIG_DFL now, so process_reset_signals resets only those. */
void process_note_signals(void);
/* A handler set after process_note_signals. */
void process_note_signal(int sig);

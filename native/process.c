#include "process.h"
#include "protocol.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "filter.h"

extern char **environ;

/*
 * Signals whose disposition may not be SIG_DFL in this process (and so in its forks): resetting all
 * 64 cost one rt_sigaction each in every worker and container process, 120 of the keeper's ~770
 * syscalls per `true`. The keeper reads them once at start (process_note_signals); whatever sets a
 * handler later notes it. Until then (a run that never noted) every signal is reset, as before.
 */
static uint64_t touched;
static bool noted;

#define SIGBIT(s) (1ULL << ((s) - 1))

void process_note_signals(void) {
  for (int s = 1; s < _NSIG && s <= 64; s++) {
    struct sigaction sa;
    if (s == SIGKILL || s == SIGSTOP) continue;
    if (sigaction(s, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL || (sa.sa_flags & SA_SIGINFO)) touched |= SIGBIT(s);
  }
  noted = true;
}

void process_note_signal(int s) {
  if (s >= 1 && s <= 64) touched |= SIGBIT(s);
}

void process_reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < _NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    if (noted && s <= 64 && !(touched & SIGBIT(s))) continue;
    signal(s, SIG_DFL);
  }
  touched = 0;
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static int apply_rlimits(const struct proc_spec *p, sw_error *e) {
  for (size_t i = 0; i < p->nrlimits; i++) {
    struct rlimit cur, want;
    const struct rlimit_spec *r = &p->rlimits[i];
    if (getrlimit(r->resource, &cur) < 0) return sw_fail(e, errno, "getrlimit %d", r->resource);
    /* Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace, which we never
     * have: clamp to the current hard limit instead of failing. */
    want.rlim_max = r->hard < cur.rlim_max ? r->hard : cur.rlim_max;
    want.rlim_cur = r->soft < want.rlim_max ? r->soft : want.rlim_max;
    if (setrlimit(r->resource, &want) < 0) return sw_fail(e, errno, "setrlimit %d", r->resource);
  }
  return 0;
}

/* Every capability the container lacks out of the bounding set; needs CAP_SETPCAP, which we still
 * hold as root. `who` prefixes the stage ("" or "init: "). */
static int drop_bounding(const struct proc_spec *p, const char *who, sw_error *e) {
  for (int cap = 0; cap < 64; cap++) {
    if (p->caps & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break; /* past CAP_LAST_CAP */
      return sw_fail(e, errno, "%sdrop capability %d from the bounding set", who, cap);
    }
  }
  return 0;
}

/* started: the bounding set is init's already (process_prepare_start). */
static int apply_caps(const struct proc_spec *p, bool started, sw_error *e) {
  int r;
  /* Bounding set first, while we hold CAP_SETPCAP. */
  if (!started && (r = drop_bounding(p, "", e)) < 0) return r;
  /* KEEPCAPS so a switch to a non-root uid keeps the permitted set until capset() below; the
   * kernel clears it again at exec for non-root users, which is what Docker does too. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return sw_fail(e, errno, "PR_SET_KEEPCAPS");
  if (setgroups(p->ngroups, p->groups) < 0) {
    /* With a single-id mapping setgroups is denied; that is only fatal when groups were asked. */
    if (!(errno == EPERM && p->ngroups == 0)) return sw_fail_k(e, EK_IDS, errno, "setgroups");
  }
  if (setresgid(p->gid, p->gid, p->gid) < 0) return sw_fail_k(e, EK_IDS, errno, "setresgid %u", (unsigned)p->gid);
  if (setresuid(p->uid, p->uid, p->uid) < 0) return sw_fail_k(e, EK_IDS, errno, "setresuid %u", (unsigned)p->uid);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    uint32_t bits = (uint32_t)(p->caps >> (32 * i));
    /* Inheritable stays empty (runc, CVE-2022-24769): with it set, a file with inheritable file
     * capabilities would gain them at exec, past the bounding set the user asked for. */
    data[i].effective = data[i].permitted = bits;
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return sw_fail(e, errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return sw_fail(e, errno, "clear ambient capabilities");
  if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return sw_fail(e, errno, "PR_SET_NO_NEW_PRIVS");
  return 0;
}

/*
 * A new, empty session keyring (as runc), so the process neither reads nor adds to the keyring of
 * the test process that started the keeper (a session keyring survives fork, clone and unshare:
 * the keeper and its containers had Node's). Anonymous, so it can never join a keyring someone
 * else named ahead of time (a named one is joined when it exists). Done as root, before the ids
 * change, so the keyring belongs to the container's root. EPERM/ENOSYS: keyctl is blocked around
 * us (e.g. a Docker seccomp profile) or absent, which blocks it for the container too; the keeper
 * logs that once at start.
 */
static int join_session_keyring(sw_error *e) {
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0) < 0 && errno != ENOSYS && errno != EPERM)
    return sw_fail_k(e, EK_KEYRING, errno, "join a new session keyring");
  return 0;
}

static int set_caps(uint64_t effective, uint64_t permitted, sw_error *e) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(effective >> (32 * i));
    data[i].permitted = (uint32_t)(permitted >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return sw_fail(e, errno, "capset");
  return 0;
}

int process_prepare_start(const struct proc_spec *p, sw_error *e) {
  int r;
  if ((r = join_session_keyring(e)) < 0) return r;
  /* Without no_new_privs the process loads its filter while it holds CAP_SYS_ADMIN, before its
   * capabilities: init holds it too, so the process inherits init's instead. With no_new_privs the
   * process loads its own last (and init its own after no_new_privs). */
  if (p->filter && !p->no_new_privs && (r = filter_load(p->filter, e)) < 0) return r;
  /* The bounding set once, for init and the process it forks next (29 prctl calls each, through the
   * filter, were done twice). Dropping from the bounding set leaves init's permitted and effective
   * sets whole: the process still switches ids and sets its own capabilities after the fork. */
  return drop_bounding(p, "init: ", e);
}

int process_confine_init(const struct proc_spec *p, sw_error *e) {
  int r;
  /* init never execs: no_new_privs costs it nothing, and then the filter loads without CAP_SYS_ADMIN. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return sw_fail(e, errno, "init: PR_SET_NO_NEW_PRIVS");
  if (p->filter && p->no_new_privs && (r = filter_load(p->filter, e)) < 0) return r;
  /* The bounding set is the container's since process_prepare_start. */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return sw_fail(e, errno, "init: clear ambient capabilities");
  /* CAP_KILL stays permitted (never effective) so that a signal forwarded to a process of another
   * uid still arrives when the container's set lacks it (process_kill_raised). */
  return set_caps(p->caps, p->caps | (1ULL << CAP_KILL), e);
}

int process_kill(pid_t pid, int sig, uint64_t caps) {
  if (kill(pid, sig) == 0) return 0;
  if (errno != EPERM || (caps & (1ULL << CAP_KILL))) return -errno;
  sw_error e = {0};
  if (set_caps(caps | (1ULL << CAP_KILL), caps | (1ULL << CAP_KILL), &e) < 0) return -e.errnum;
  int r = kill(pid, sig) == 0 ? 0 : -errno;
  set_caps(caps, caps | (1ULL << CAP_KILL), &e);
  return r;
}

static int exec_confined(const struct proc_spec *p, bool started, sw_error *e) {
  int r;
  if (p->seccomp == SW_SECCOMP_DEFAULT && !p->filter)
    return sw_fail_k(e, EK_SECCOMP, EINVAL, "seccomp: no filter compiled for the default profile"); /* never run unfiltered by mistake */
  process_reset_signals();
  if ((r = apply_rlimits(p, e)) < 0) return r;
  if (chdir(p->cwd) < 0) return sw_fail_k(e, EK_CWD, errno, "chdir %s", p->cwd);
  /* started: the keyring, and without no_new_privs the filter, are init's (process_prepare_start). */
  if (!started && (r = join_session_keyring(e)) < 0) return r;
  /* Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: load it while we still hold it
   * (as runc); setgroups, setres[ug]id, capset and prctl that follow are in the profile. */
  if (!started && p->filter && !p->no_new_privs && (r = filter_load(p->filter, e)) < 0) return r;
  if ((r = apply_caps(p, started, e)) < 0) return r;
  /* Every fd we own is O_CLOEXEC; make sure nothing inherited by accident leaks in. */
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  /* Last, with no_new_privs already set: from here on only execve and the error path run. */
  if (p->filter && p->no_new_privs && (r = filter_load(p->filter, e)) < 0) return r;
  /* execvp looks PATH up in environ, not in the envp it would be given: switch environ first. */
  environ = p->env;
  execvp(p->argv[0], p->argv);
  return sw_fail_k(e, EK_EXEC, errno, "exec %s", p->argv[0]);
}

int process_exec(const struct proc_spec *p, sw_error *e) { return exec_confined(p, false, e); }

int process_exec_started(const struct proc_spec *p, sw_error *e) { return exec_confined(p, true, e); }

/* EXEC: run a process inside a running container, streaming its output back as frames. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "exec.h"
#include "process.h"
#include "spec.h"
#include "worker.h"

int join_container(bool all, sw_error *e) {
  static const struct {
    const char *name;
    int type;
  } nss[SW_NS_COUNT] = {
      [SW_NS_CGROUP] = {"cgroup", CLONE_NEWCGROUP}, [SW_NS_IPC] = {"ipc", CLONE_NEWIPC}, [SW_NS_UTS] = {"uts", CLONE_NEWUTS},
      [SW_NS_NET] = {"net", CLONE_NEWNET},          [SW_NS_PID] = {"pid", CLONE_NEWPID}, [SW_NS_MNT] = {"mnt", CLONE_NEWNS},
  };
  /* The keeper's fds (worker_spawn_in), not /proc/<init>/ns: init is not dumpable. mnt last:
   * joining it also moves our root and cwd to the container's root. */
  for (int i = 0; i < SW_NS_COUNT; i++) {
    if (!all && i != SW_NS_MNT) continue;
    int fd = WORKER_NS_FD + i;
    /* EBADF: the keeper holds no namespaces for it (init is gone, or not created yet). */
    if (fcntl(fd, F_GETFD) < 0) return sw_fail_k(e, EK_CONTAINER_STATE, ESRCH, "join the container: its namespaces are gone");
    /* A namespace the container shares with the keeper (the host network with withNetworkMode("host")) is
     * already ours; setns into it would need privileges over the host's namespace that we do not have. */
    char self[32];
    struct stat want, have;
    snprintf(self, sizeof self, "/proc/self/ns/%s", nss[i].name);
    if (fstat(fd, &want) == 0 && stat(self, &have) == 0 && want.st_dev == have.st_dev && want.st_ino == have.st_ino) {
      close(fd);
      continue;
    }
    if (setns(fd, nss[i].type) < 0) return sw_fail(e, errno, "setns %s", nss[i].name);
    close(fd);
  }
  return 0;
}

static bool has_all_controllers(const char *superopts, const char *controllers) {
  cleanup_free char *want = xstrdup(controllers);
  char *save = NULL;
  for (char *c = strtok_r(want, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    size_t n = strlen(c);
    bool found = false;
    for (const char *p = superopts; (p = strstr(p, c)); p += n)
      if ((p == superopts || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) {
        found = true;
        break;
      }
    if (!found) return false;
  }
  return true;
}

/* Moves the calling process into every cgroup of the container's init, so an exec'd process
 * counts against the container's limits. Best effort: a failure only loses accounting. */
static void join_cgroups(pid_t init_pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)init_pid);
  FILE *cg = fopen(path, "re");
  if (!cg) return;
  char line[4096];
  while (fgets(line, sizeof line, cg)) {
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = 0;
    const char *controllers = c1 + 1, *cgpath = c2 + 1;
    bool v2 = !strcmp(line, "0") && !*controllers;
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    if (!mi) break;
    char m[4096];
    while (fgets(m, sizeof m, mi)) {
      char root[1024], mnt[1024], fstype[64], superopts[1024];
      const char *sep = strstr(m, " - ");
      if (!sep || sscanf(m, "%*s %*s %*s %1023s %1023s", root, mnt) != 2) continue;
      if (sscanf(sep + 3, "%63s %*s %1023s", fstype, superopts) != 2) continue;
      if (v2 ? strcmp(fstype, "cgroup2") : (strcmp(fstype, "cgroup") || !has_all_controllers(superopts, controllers))) continue;
      size_t rl = strlen(root);
      const char *rel = cgpath;
      if (strcmp(root, "/")) {
        if (strncmp(cgpath, root, rl)) continue;
        rel = cgpath + rl;
      }
      cleanup_free char *procs = xasprintf("%s%s/cgroup.procs", mnt, rel);
      if (write_file(procs, "0") < 0) logmsg("exec: join %s: %s", procs, strerror(errno));
      break;
    }
    fclose(mi);
  }
  fclose(cg);
}

static void send_output(int out, uint32_t reqid, int stream, const char *data, size_t n) {
  sw_buf b = {0};
  buf_begin(&b, FR_EXEC_OUTPUT, reqid);
  buf_put_u8(&b, T_STREAM, (uint8_t)stream);
  buf_put(&b, T_DATA, data, (uint32_t)n);
  worker_send(out, &b);
  buf_free(&b);
}

/* Reads once from fd; forwards data; returns false on EOF/error. */
static bool pump(int out, uint32_t reqid, int fd, int stream) {
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  send_output(out, reqid, stream, buf, (size_t)n);
  return true;
}

/* SIGUSR1 (worker_cancel): Node gave the exec up. The worker passes it on to the exec's reaper (below),
 * which kills the whole tree; the worker then reports the status as for any exit. Without this a probe
 * that hangs (a health check past its timeout) would run, and hold its worker, until the container is
 * removed. */
static volatile sig_atomic_t exec_cancelled;
static volatile pid_t exec_child;

static void on_cancel(int sig) {
  (void)sig;
  exec_cancelled = 1;
  if (exec_child > 0) kill(exec_child, SIGUSR1);
}

/* The pid, in the caller's (the container's) pid namespace, of the host pid `hostpid`: the last NSpid
 * field of its status in the host's procfs. 0 when it is gone or unreadable. */
static pid_t container_pid(int procfd, long hostpid) {
  char path[48], buf[2048];
  snprintf(path, sizeof path, "%ld/status", hostpid);
  int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read_full(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *line = strstr(buf, "\nNSpid:");
  if (!line) return 0;
  line[strcspn(line + 1, "\n") + 1] = 0;
  char *last = strrchr(line, '\t');
  long v = last ? strtol(last + 1, NULL, 10) : 0;
  return v > 0 ? (pid_t)v : 0;
}

/* SIGKILLs every process below the calling subreaper. Only its own children are signalled: unreaped,
 * their pids cannot be reused meanwhile. A killed child's children become ours (we are their subreaper)
 * and are found in the next round, so setsid() or a double fork does not get away. The list comes from
 * the host's procfs (opened before joining the container, so the container cannot mount over it), in
 * host pids, translated to ours through NSpid. Returns the status of `main` if it was reaped here. */
static int kill_tree(int procfd, pid_t main, int main_st) {
  for (int round = 0; round < 65536; round++) {
    char buf[8192];
    int fd = openat(procfd, "thread-self/children", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read_full(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n < 0) {
      /* No list (no CONFIG_PROC_CHILDREN): the process group is all we can reach. */
      kill(-main, SIGKILL);
      kill(main, SIGKILL);
      return main_st;
    }
    buf[n] = 0;
    for (char *p = buf, *end; *p; p = end) {
      long hostpid = strtol(p, &end, 10);
      if (end == p) break;
      pid_t c = container_pid(procfd, hostpid);
      if (c > 0) kill(c, SIGKILL);
    }
    int st;
    pid_t r = TEMP_FAILURE_RETRY(waitpid(-1, &st, 0));
    if (r < 0) break; /* ECHILD: nothing is left below us */
    if (r == main) main_st = st;
  }
  return main_st;
}

/* The exec's reaper: the worker's child inside the container's pid namespace, a child subreaper, so
 * everything the process starts stays below it even after setsid() or a double fork, and an abort
 * kills all of it (Docker kills nothing on a client's disconnect: an exec runs on until it ends or the
 * container stops, moby#9098, runc#3359; moby#9994, a sub-cgroup per exec, was closed). When the process exits by itself, its background children are
 * left running (reparented to the container's init), as in Docker: `exec sh -c 'daemon &'` is a
 * common way to start one. The process's wait status goes to the worker through `stw`. */
static _Noreturn void exec_reaper(int procfd, struct exec_job *j, int po1, int pe1, int ep1, int stw) {
  sw_error e = {0};
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  prctl(PR_SET_NAME, "slipway-exec", 0, 0, 0);
  /* SIGUSR1 is blocked since before the fork (a cancel that came early is pending); SIGCHLD too. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t pid = fork();
  if (pid < 0) {
    sw_fail(&e, errno, "exec: fork");
    (void)!write(ep1, &e, sizeof e);
    _exit(126);
  }
  if (pid == 0) {
    setsid();
    /* stdin: our fd 0 is the keeper's input pipe (DATA frames) with has_stdin, else /dev/null. */
    if (dup2(po1, 1) < 0 || dup2(pe1, 2) < 0) _exit(126);
    process_exec(j->proc, &e); /* resets the signal mask */
    (void)!write(ep1, &e, sizeof e);
    _exit(e.errnum == ENOENT ? 127 : 126);
  }
  close(po1);
  close(pe1);
  close(ep1);
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nul >= 0) {
    dup2(nul, 0);
    close(nul);
  }
  int st = 0;
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == SIGUSR1) {
      st = kill_tree(procfd, pid, W_EXITCODE(0, SIGKILL));
      break;
    }
    if (sig != SIGCHLD) continue;
    pid_t r;
    bool done = false;
    while ((r = waitpid(-1, &st, WNOHANG)) > 0)
      if (r == pid) {
        done = true;
        break;
      }
    if (done) break;
  }
  (void)!write(stw, &st, sizeof st);
  _exit(0);
}

void exec_worker(int out, uint32_t reqid, void *arg) {
  struct exec_job *j = arg;
  sw_error e = {0};
  /* The process below lives in the container's pid namespace as a copy of the keeper (all
   * capabilities) until its execve: not dumpable, so no container process can ptrace it meanwhile. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* The host's procfs, for the reaper's list of its children, before the container's mounts hide it. */
  int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  /* cgroups first: the paths are host paths, reachable only before joining the mount namespace. */
  join_cgroups(j->init_pid);
  if (join_container(true, &e) < 0) worker_fail(out, reqid, &e);
  int po[2], pe[2], ep[2], sp[2];
  if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0 || pipe2(sp, O_CLOEXEC) < 0) {
    sw_fail(&e, errno, "exec: pipes");
    worker_fail(out, reqid, &e);
  }
  struct sigaction sa = {.sa_handler = on_cancel};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  process_note_signal(SIGUSR1);
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old);
  /* setns(pid) only applies to children: fork once more so the reaper (and the process) are inside. */
  pid_t pid = fork();
  if (pid < 0) {
    sw_fail(&e, errno, "exec: fork");
    worker_fail(out, reqid, &e);
  }
  if (pid == 0) {
    close(out);
    close(po[0]);
    close(pe[0]);
    close(ep[0]);
    close(sp[0]);
    exec_reaper(procfd, j, po[1], pe[1], ep[1], sp[1]);
  }
  exec_child = pid;
  /* A cancel that came before the reaper was named is delivered now, and passed on to it. */
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(sp[1]);
  if (procfd >= 0) close(procfd);
  close(po[1]);
  close(pe[1]);
  close(ep[1]);
  /* Only the process reads the input pipe now: when it exits or closes stdin, the keeper's writes
   * fail with EPIPE and it stops feeding (instead of filling a pipe nobody reads). */
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nul >= 0) {
    dup2(nul, 0);
    close(nul);
  }
  sw_error ce;
  ssize_t got = read_full(ep[0], &ce, sizeof ce);
  close(ep[0]);
  if (got == (ssize_t)sizeof ce) {
    waitpid(pid, NULL, 0);
    worker_fail(out, reqid, &ce);
  }
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  set_nonblock(po[0], true);
  set_nonblock(pe[0], true);
  bool open_out = true, open_err = true;
  while (open_out || open_err) {
    struct pollfd p[3] = {
        {.fd = open_out ? po[0] : -1, .events = POLLIN},
        {.fd = open_err ? pe[0] : -1, .events = POLLIN},
        {.fd = pidfd, .events = POLLIN},
    };
    if (TEMP_FAILURE_RETRY(poll(p, 3, -1)) < 0) break;
    if (p[0].revents) open_out = pump(out, reqid, po[0], 1);
    if (p[1].revents) open_err = pump(out, reqid, pe[0], 2);
    if (p[2].revents) {
      /* The process exited. Whatever is still buffered is read; a background child that keeps
       * the pipes open must not keep the exec waiting forever. */
      break;
    }
  }
  int st = 0;
  TEMP_FAILURE_RETRY(waitpid(pid, &st, 0));
  /* The process's status, from the reaper; without one (the reaper was killed from inside the
   * container) the reaper's own. */
  int pst;
  if (read_full(sp[0], &pst, sizeof pst) == (ssize_t)sizeof pst) st = pst;
  close(sp[0]);
  /* Drain what the process wrote right before exiting. */
  for (int round = 0; round < 64 && open_out; round++) {
    char buf[65536];
    ssize_t n = read(po[0], buf, sizeof buf);
    if (n <= 0) break;
    send_output(out, reqid, 1, buf, (size_t)n);
  }
  for (int round = 0; round < 64 && open_err; round++) {
    char buf[65536];
    ssize_t n = read(pe[0], buf, sizeof buf);
    if (n <= 0) break;
    send_output(out, reqid, 2, buf, (size_t)n);
  }
  sw_buf b = {0};
  buf_begin(&b, FR_OK, reqid);
  buf_put_u32(&b, T_STATUS, (uint32_t)st);
  worker_send(out, &b);
  _exit(0);
}

/* EXEC: run a process inside a running container, streaming its output back as frames. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
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

/* SIGUSR1 (worker_cancel): Node gave the exec up. The process (and what it started: it leads its own
 * process group after setsid) is killed; the worker then reports its status as for any exit. Without
 * this a probe that hangs (a health check past its timeout) would run, and hold its worker, until the
 * container is removed. */
static volatile sig_atomic_t exec_cancelled;
static volatile pid_t exec_child;

static void on_cancel(int sig) {
  (void)sig;
  exec_cancelled = 1;
  if (exec_child > 0) kill(-exec_child, SIGKILL);
}

void exec_worker(int out, uint32_t reqid, void *arg) {
  struct exec_job *j = arg;
  sw_error e = {0};
  /* The process below lives in the container's pid namespace as a copy of the keeper (all
   * capabilities) until its execve: not dumpable, so no container process can ptrace it meanwhile. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* cgroups first: the paths are host paths, reachable only before joining the mount namespace. */
  join_cgroups(j->init_pid);
  if (join_container(true, &e) < 0) worker_fail(out, reqid, &e);
  int po[2], pe[2], ep[2];
  if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
    sw_fail(&e, errno, "exec: pipes");
    worker_fail(out, reqid, &e);
  }
  struct sigaction sa = {.sa_handler = on_cancel};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  /* setns(pid) only applies to children: fork once more so the process is inside. */
  pid_t pid = fork();
  if (pid < 0) {
    sw_fail(&e, errno, "exec: fork");
    worker_fail(out, reqid, &e);
  }
  if (pid == 0) {
    close(ep[0]);
    setsid();
    /* stdin: our fd 0 is the keeper's input pipe (DATA frames) with has_stdin, else /dev/null. */
    if (dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0) _exit(126);
    process_exec(j->proc, &e);
    (void)!write(ep[1], &e, sizeof e);
    _exit(e.errnum == ENOENT ? 127 : 126);
  }
  exec_child = pid;
  /* Cancelled before the child could be named: kill it now (it may not have called setsid yet). */
  if (exec_cancelled) kill(pid, SIGKILL);
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

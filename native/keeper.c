#include "keeper.h"

#include <dirent.h>
#include <malloc.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/keyctl.h>

#include "exec.h"
#include "files.h"
#include "filter.h"
#include "cgroup.h"
#include "forward.h"
#include "init.h"
#include "janitor.h"
#include "logs.h"
#include "loop.h"
#include "netpool.h"
#include "network.h"
#include "outbound.h"
#include "owner.h"
#include "process.h"
#include "reply.h"
#include "rootfs.h"
#include "spec.h"
#include "userns.h"
#include "worker.h"

#ifndef SW_BUILD_ID
#define SW_BUILD_ID "dev"
#endif

enum cstate { C_CREATING, C_CREATED, C_STARTING, C_RUNNING, C_FAILED };

struct container {
  struct container *next;
  char *id, *state_dir;
  pid_t pid;
  pid_t fuse_pid; /* fuse-overlayfs serving the root from outside the container, or 0 */
  int ctl;
  int out[2];
  struct watch w_ctl, w_out[2];
  struct log_file log;
  enum cstate state;
  int net;           /* NET_ISOLATED / NET_NONE / NET_HOST */
  int seccomp;       /* SW_SECCOMP_*: every exec gets the container's */
  bool no_new_privs; /* likewise (Docker: an exec follows the container's no-new-privileges) */
  int ns[SW_NS_COUNT]; /* init's namespaces, opened at CREATED (init is not dumpable from START on) */
  unsigned net_ifs;  /* user networks attached so far: the next one is eth<net_ifs + 1> */
  pid_t ns_closer;   /* the child closing the namespaces' last fds (release_ns), until reaped */
  uint64_t ns_cookie; /* when ns_closer is the closing janitor: this container's job */
  /* An OUTBOUND that came before the container's network namespace had its tap (IM_NET, or CREATED
   * without one): started then. Node sends it right after CREATE, so that the helper's start overlaps
   * init's setup of the root. */
  bool net_ready;
  /* Cloned into a prepared namespace (netpool.h) whose helper it adopted: its OUTBOUND is answered at once. */
  bool pooled_net;
  bool prepared_net; /* likewise, for good: a START with IF_PREPARED may go to init at CREATED */
  uint32_t outbound_req; /* 0 = none waiting */
  uint8_t *outbound_body;
  size_t outbound_len;
  uint32_t create_req, start_req, remove_req;
  uint32_t start_queued; /* a START that came while CREATE was still pending: sent to init at CREATED */
  bool have_status, reaped, create_ok, keep_dir;
  int status;
};

/* A removed container's state dir, deleted by a child of its own (or the removing janitor's job
 * `cookie`) after REMOVE was answered. */
struct removal {
  struct removal *next;
  pid_t pid;
  uint64_t cookie;
  char *dir;
};

static struct {
  int sigfd;
  sw_reader in;
  struct watch w_in, w_sig;
  struct container *containers;
  struct removal *removals;
  char *dir;
  int lockfd;
  int map_kind;
  int owner_fd[SW_MAX_OWNERS]; /* pidfds of the run's root processes (owner.h), -1 when unused */
  int owner_pid[SW_MAX_OWNERS];
  struct watch w_owner[SW_MAX_OWNERS];
} K;

/* ---- containers ------------------------------------------------------------------------------ */

/* Two janitors (janitor.h): one closes released namespaces, one deletes removed state dirs, so a
 * restart's release never waits behind a large rmtree. */
static void ns_closed(uint64_t cookie, int err);
static void removal_done(uint64_t cookie, int err);
static struct janitor J_ns = JANITOR_INIT(ns_closed), J_rm = JANITOR_INIT(removal_done);
static uint64_t next_cookie = 1;

static struct container *find(const char *id) {
  for (struct container *c = K.containers; c; c = c->next)
    if (!strcmp(c->id, id)) return c;
  return NULL;
}

/*
 * One prepared network namespace for network mode none (lo up, nothing else): creating a network
 * namespace in init's clone was about half of that clone's CPU time (0.4-0.5 ms, clone with and
 * without CLONE_NEWNET). Made by the namespace janitor's child, so owned by the keeper's user
 * namespace as the clone's own; only once a none container was created (a keeper that never runs one
 * never holds a spare); served to exactly one container, never returned; its fd dies with the
 * keeper. A CREATE that finds none ready clones with CLONE_NEWNET as before.
 */
#define NONE_POOL_MAX_FAILS 2
static struct {
  int fd;          /* the spare, or -1 */
  bool wanted;     /* a none container was created */
  bool making;     /* asked of the janitor, not answered */
  unsigned fails;
} NP = {-1, false, false, 0};

static int none_pool_take(void) {
  int fd = NP.fd;
  NP.fd = -1;
  NP.wanted = true;
  return fd;
}

static void none_pool_made(uint64_t cookie, int fd, int err) {
  (void)cookie;
  NP.making = false;
  if (fd < 0) {
    NP.fails++;
    logmsg("network namespace pool (network none): make a namespace: %s%s", strerror(err),
           NP.fails >= NONE_POOL_MAX_FAILS ? " (no more spares)" : "");
    return;
  }
  if (NP.fd >= 0) close(fd);
  else NP.fd = fd;
}

/* The pool's spares are made only while no boot is under way (CREATE to START's answer): on two
 * cores a refill beside a boot slowed that boot down. */
static void pool_refill_if_idle(void) {
  for (struct container *c = K.containers; c; c = c->next)
    if (!c->reaped && (c->state == C_CREATING || c->state == C_CREATED || c->state == C_STARTING)) return;
  netpool_refill();
  if (NP.wanted && NP.fd < 0 && !NP.making && NP.fails < NONE_POOL_MAX_FAILS)
    NP.making = janitor_make_netns(&J_ns, 0) == 0;
}

static void drain_out(struct container *c, int i) {
  char buf[65536];
  while (c->out[i] >= 0) {
    ssize_t n = read(c->out[i], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      log_eof(&c->log, i);
      loop_del_close(&c->out[i]);
      return;
    }
    log_feed(&c->log, i, buf, (size_t)n);
  }
}

static void out_readable(struct watch *w, uint32_t events) {
  (void)events;
  drain_out(w->obj, w->idx);
}

static void close_ns(struct container *c) {
  for (int i = 0; i < SW_NS_COUNT; i++)
    if (c->ns[i] >= 0) close(c->ns[i]), c->ns[i] = -1;
}

/* Opens init's namespaces while it is still dumpable (until START): workers join the container
 * through these fds. */
static int open_ns(struct container *c) {
  static const char *names[SW_NS_COUNT] = {
      [SW_NS_CGROUP] = "cgroup", [SW_NS_IPC] = "ipc", [SW_NS_UTS] = "uts", [SW_NS_NET] = "net", [SW_NS_PID] = "pid", [SW_NS_MNT] = "mnt"};
  for (int i = 0; i < SW_NS_COUNT; i++) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)c->pid, names[i]);
    if ((c->ns[i] = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
      int err = errno;
      close_ns(c);
      return -err;
    }
  }
  return 0;
}

/* The OUTBOUND waiting for the network fails (nothing was started for it). */
static void outbound_pending_fail(struct container *c, const char *stage, int err) {
  if (!c->outbound_req) return;
  reply_error(c->outbound_req, EK_NETWORK, stage, err);
  c->outbound_req = 0;
  free(c->outbound_body);
  c->outbound_body = NULL;
}

/* The network namespace is ready for a helper: one waiting starts now. */
static void container_net_ready(struct container *c) {
  c->net_ready = true;
  if (!c->outbound_req) return;
  uint32_t req = c->outbound_req;
  c->outbound_req = 0;
  outbound_start(req, c->id, c->pid, c->outbound_body, c->outbound_len);
  free(c->outbound_body);
  c->outbound_body = NULL;
}

static void container_release(void *p) {
  struct container *c = p;
  free(c->outbound_body);
  free(c->id);
  free(c->state_dir);
  free(c);
}

/* Unlinks c and closes its fds now; the memory goes after the epoll batch (later events of the
 * batch may point at it: they are skipped). */
static void container_free(struct container *c) {
  struct container **pp = &K.containers;
  while (*pp && *pp != c) pp = &(*pp)->next;
  if (*pp) *pp = c->next;
  loop_del_close(&c->ctl);
  loop_del_close(&c->out[0]);
  loop_del_close(&c->out[1]);
  close_ns(c);
  log_close(&c->log);
  forward_container_gone(c->id);
  loop_forget(&c->w_ctl);
  loop_forget(&c->w_out[0]);
  loop_forget(&c->w_out[1]);
  loop_defer(container_release, c);
}

/*
 * Once init is gone, the keeper's fds are the last references to the container's namespaces, and the
 * last close of the mount namespace's unmounts its whole tree (RCU grace periods included) in the
 * closing process: 2-46 ms under load, measured with strace, during which the loop relayed no port.
 * A forked child takes the fds over and closes them; the keeper's own close only drops a reference.
 * A release (REMOVE with KEEP: a restart mounts the same upper dir again) waits for that child
 * (finish_remove); a removal does not. Without a child (fork failed) the keeper closes them itself.
 */
static void release_ns(struct container *c) {
  int keep[SW_NS_COUNT + 1], n = 0, go[2] = {-1, -1};
  for (int i = 0; i < SW_NS_COUNT; i++)
    if (c->ns[i] >= 0) keep[n++] = c->ns[i];
  if (n == 0) return;
  uint64_t cookie = next_cookie++;
  if (janitor_close_fds(&J_ns, cookie, keep, n) == 0) {
    close_ns(c); /* the janitor's copies hold on: this close only drops references */
    janitor_go(&J_ns, cookie);
    c->ns_closer = J_ns.pid;
    c->ns_cookie = cookie;
    return;
  }
  /* No janitor: a child of its own holds copies until the keeper's are closed (EOF on go): whoever
   * closes last pays. */
  pid_t pid = pipe2(go, O_CLOEXEC) < 0 ? -1 : fork();
  if (pid == 0) {
    keep[n++] = go[0];
    /* Only the namespaces: a published port's socket or Node's pipes must not outlive the
     * keeper's own close by one teardown. close_range around the kept fds, in ascending order. */
    for (int i = 1; i < n; i++)
      for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
        int t = keep[j];
        keep[j] = keep[j - 1];
        keep[j - 1] = t;
      }
    unsigned lo = 0;
    for (int i = 0; i < n; i++) {
      if ((unsigned)keep[i] > lo) syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
      lo = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0U, 0);
    char b;
    while (read(go[0], &b, 1) < 0 && errno == EINTR) {}
    _exit(0); /* the last references go here */
  }
  close_ns(c);
  for (int i = 0; i < 2; i++)
    if (go[i] >= 0) close(go[i]);
  if (pid > 0) c->ns_closer = pid;
}

/*
 * A removed container's state dir (an upper dir can hold a whole image's worth of files) is deleted
 * by a child of its own, after REMOVE was answered: once init is reaped nothing of the container
 * runs, its id is free and its ports are closed, so Node need not wait for the files, nor for the
 * namespaces' unmount (release_ns' child: 1.8 ms idle, tens of ms under load). First the dir is
 * renamed to .removing-<name> beside it, before the answer: its name is gone when Node hears
 * "removed", and what is still being deleted is visible as such. The rmtree may overlap the
 * unmount: upper and work dirs are plain dirs of the keeper's, and an unlinked file of a mount that
 * is going away stays valid for it. A failure is logged (Node's helper log, as the undo log had it).
 * The keeper waits for these children before it exits (teardown), so the files go with it.
 * A released container (restart: KEEP) waits for the unmount instead: its upper dir is mounted again.
 */
static char *removal_aside(const char *dir) {
  const char *slash = strrchr(dir, '/');
  char *aside = slash && slash[1] ? xasprintf("%.*s/.removing-%s", (int)(slash - dir), dir, slash + 1) : NULL;
  if (aside && rename(dir, aside) == 0) return aside;
  free(aside);
  return strdup(dir);
}

/* dir: the state dir as Node names it; path: where it is now (removal_aside). */
static void removal_spawn(const char *dir, const char *path) {
  struct removal *r = calloc(1, sizeof *r);
  pid_t pid = -1;
  if (r && (r->dir = strdup(dir))) {
    r->cookie = next_cookie++;
    if (janitor_rmtree(&J_rm, r->cookie, path) == 0) {
      r->pid = J_rm.pid;
      r->next = K.removals;
      K.removals = r;
      return;
    }
    r->cookie = 0;
  }
  if (r && r->dir && (pid = fork()) == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* a keeper killed outright: the next one sweeps */
    /* Nothing of the keeper's: Node's pipes and published ports must not outlive its close. */
    syscall(SYS_close_range, 0U, ~0U, 0);
    int e = rmtree(path);
    _exit(e < 0 ? (-e & 0xff) : 0);
  }
  if (pid < 0) {
    int e = rmtree(path); /* no child: in the loop */
    if (e < 0) logmsg("remove state dir %s: %s", dir, strerror(-e));
    if (r) free(r->dir);
    free(r);
    return;
  }
  r->pid = pid;
  r->next = K.removals;
  K.removals = r;
}

/* True when pid was a removal's child (its failure logged). */
static bool removal_reaped(pid_t pid, int status) {
  for (struct removal **pp = &K.removals; *pp; pp = &(*pp)->next) {
    struct removal *r = *pp;
    if (r->pid != pid) continue;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      logmsg("remove state dir %s: %s", r->dir, WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "killed");
    *pp = r->next;
    free(r->dir);
    free(r);
    return true;
  }
  return false;
}

static void removal_done(uint64_t cookie, int err) {
  for (struct removal **pp = &K.removals; *pp; pp = &(*pp)->next) {
    struct removal *r = *pp;
    if (r->cookie != cookie) continue;
    if (err) logmsg("remove state dir %s: %s", r->dir, strerror(err));
    *pp = r->next;
    free(r->dir);
    free(r);
    return;
  }
}

static bool removal_pending(const char *dir) {
  for (struct removal *r = K.removals; r; r = r->next)
    if (!strcmp(r->dir, dir)) return true;
  return false;
}

static void finish_remove(struct container *c) {
  /* Its outbound helpers were killed with init: REMOVE is answered once they are reaped too, so Node
   * needs no OUTBOUND_STOP of its own before it (again from keeper_helper_gone). */
  if (outbound_live(c->id)) return;
  uint32_t req = c->remove_req;
  if (c->keep_dir) {
    if (c->ns_closer > 0) return; /* again once the closer is reaped */
    container_free(c);
    reply_ok(req);
    return;
  }
  cleanup_free char *dir = strdup(c->state_dir);
  cleanup_free char *path = removal_aside(c->state_dir);
  container_free(c); /* its fds (the log's among them) are closed when Node hears "removed" */
  reply_ok(req);
  if (dir) removal_spawn(dir, path ? path : dir);
  pool_refill_if_idle();
}

/* A helper of container `id` was reaped: a removal that waited for it goes on. */
static void keeper_helper_gone(const char *id) {
  struct container *c = find(id);
  if (c && c->remove_req && c->reaped) finish_remove(c);
}

/* A queued START (op_start) whose CREATE failed fails too: Node reports CREATE's error. */
static void fail_queued_start(struct container *c, int err) {
  if (!c->start_queued) return;
  reply_error(c->start_queued, EK_SETUP, "start: the container was not created", err ? err : ECHILD);
  c->start_queued = 0;
}

static void start_now(struct container *c, uint32_t reqid);

/* The namespaces of the container whose janitor job this was are released. */
static void ns_closed(uint64_t cookie, int err) {
  (void)err;
  for (struct container *c = K.containers; c; c = c->next)
    if (c->ns_cookie == cookie && c->ns_closer > 0) {
      c->ns_closer = 0;
      c->ns_cookie = 0;
      if (c->remove_req) finish_remove(c);
      return;
    }
}

static bool ctl_read(struct container *c);

static void container_reaped(struct container *c, int init_status) {
  c->reaped = true;
  /* Nothing of the container can use its root any more. */
  if (c->fuse_pid > 0) kill(c->fuse_pid, SIGKILL);
  /* Every process of the pid namespace is gone once its init is reaped, so the pipes hold
   * their last bytes followed by EOF: log them before announcing the exit. */
  drain_out(c, 0);
  drain_out(c, 1);
  /* init's last messages (IM_EXIT with the process's status, or the error that ended setup) may
   * still wait in the socket when SIGCHLD is handled first: read them before deciding. */
  while (ctl_read(c)) {}
  int status = c->have_status ? c->status : init_status;
  if (c->state == C_CREATING) reply_error(c->create_req, EK_SETUP, "container init exited during setup", ECHILD);
  fail_queued_start(c, ECHILD);
  if (c->state == C_STARTING) reply_error(c->start_req, EK_SETUP, "container init exited during start", ECHILD);
  if (c->create_ok) {
    sw_buf b = {0};
    buf_begin(&b, FR_EXIT, 0);
    buf_put_str(&b, T_ID, c->id);
    buf_put_u32(&b, T_STATUS, (uint32_t)status);
    send_frame(&b);
    buf_free(&b);
  }
  c->state = C_FAILED;
  /* Listeners hold init's ctl fd number: drop them before the fd is closed and reused. */
  forward_container_gone(c->id);
  outbound_pending_fail(c, "outbound: the container's init exited before its network was ready", ESRCH);
  outbound_container_gone(c->id);
  loop_del_close(&c->ctl);
  release_ns(c);
  if (c->remove_req) finish_remove(c);
}

/* Handles one message from init: false when none was waiting (or the socket closed). */
static bool ctl_read(struct container *c) {
  if (c->ctl < 0) return false;
  struct init_msg m;
  int fd = -1;
  long n = init_recv(c->ctl, &m, &fd);
  if (n == -EAGAIN || n == -EINTR) return false;
  if (n <= 0) {
    loop_del_close(&c->ctl);
    return false;
  }
  switch (m.kind) {
  case IM_CREATED: {
    int r = open_ns(c);
    if (r < 0) {
      /* init is gone already (its EXIT follows) or /proc is not ours: fail CREATE like a setup error. */
      reply_error(c->create_req, EK_SETUP, "open the container's namespaces", -r);
      fail_queued_start(c, -r);
      c->state = C_FAILED;
      kill(c->pid, SIGKILL);
      break;
    }
    c->state = C_CREATED;
    c->create_ok = true;
    container_net_ready(c); /* an OUTBOUND still waiting (no IM_NET: an older order of messages) */
    {
      sw_buf b = {0};
      buf_begin(&b, FR_OK, c->create_req);
      buf_put_u32(&b, T_PID, (uint32_t)c->pid);
      send_frame(&b);
      buf_free(&b);
    }
    if (c->start_queued) { /* right behind CREATE's answer, without waiting for Node's round trip */
      uint32_t q = c->start_queued;
      c->start_queued = 0;
      start_now(c, q);
    }
    break;
  }
  case IM_ERROR:
    if (c->state == C_CREATING) reply_error(c->create_req, m.aux ? (int)m.aux : EK_SETUP, m.stage, m.err);
    fail_queued_start(c, m.err);
    c->state = C_FAILED;
    break;
  case IM_STARTED:
    if (c->state == C_STARTING) reply_ok(c->start_req);
    c->state = C_RUNNING;
    pool_refill_if_idle();
    break;
  case IM_START_FAILED:
    if (c->state == C_STARTING) reply_error(c->start_req, m.aux ? (int)m.aux : EK_EXEC, m.stage, m.err);
    c->state = C_RUNNING; /* the process exits 126/127; the EXIT event follows */
    pool_refill_if_idle();
    break;
  case IM_NET:
    if (c->net == NET_ISOLATED && !c->net_ready) container_net_ready(c);
    break;
  case IM_EXIT:
    c->have_status = true;
    c->status = m.value;
    break;
  case IM_SOCKET_REPLY:
    forward_socket_reply(c->id, &m, fd);
    fd = -1;
    break;
  default:
    break;
  }
  if (fd >= 0) close(fd);
  return true;
}

/* Every message that waits (the socket is non-blocking): one per event would leave IM_EXIT behind
 * a burst of socket replies until after the SIGCHLD of the same batch. */
static void ctl_readable(struct watch *w, uint32_t events) {
  (void)events;
  while (ctl_read(w->obj)) {}
}

static void op_create(uint32_t reqid, const sw_frame_view *f) {
  struct container_spec s;
  sw_error e = {0};
  if (spec_parse_container(f->body, f->body_len, &s, &e) < 0) {
    reply_error(reqid, EK_BAD_REQUEST, e.stage, e.errnum);
    spec_free_container(&s);
    return;
  }
  if (find(s.id)) {
    reply_error(reqid, EK_ID_IN_USE, "create: container id in use", EEXIST);
    spec_free_container(&s);
    return;
  }
  if (s.proc.seccomp == SW_SECCOMP_DEFAULT && !(s.proc.filter = filter_for_caps(s.proc.caps, &e))) {
    reply_error(reqid, e.kind ? e.kind : EK_SECCOMP, e.stage, e.errnum);
    spec_free_container(&s);
    return;
  }
  s.identity_mapped = K.map_kind == MAP_IDENTITY;
  struct container *c = xcalloc(1, sizeof *c);
  c->ctl = c->out[0] = c->out[1] = -1;
  for (int i = 0; i < SW_NS_COUNT; i++) c->ns[i] = -1;
  c->log.fd = -1;
  int sp[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
  int r;
  if ((r = log_open(&c->log, s.log_path, s.log_max)) < 0) {
    reply_error(reqid, EK_SETUP, "open log file", -r);
    goto fail;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
      pipe2(pe, O_CLOEXEC) < 0) {
    reply_error(reqid, EK_RESOURCES, "create pipes", errno);
    goto fail;
  }
  /* A fuse-overlayfs root is served from here, outside the container's pid namespace. */
  if (rootfs_prepare(&s, &e) < 0) {
    reply_error(reqid, e.kind ? e.kind : EK_ROOTFS, e.stage, e.errnum);
    goto fail;
  }
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
  /* A prepared network namespace: isolated, with its helper ready, when Node asked for one and one is
   * there; none, the spare if one is ready. */
  pid_t spare_helper = 0;
  int pool_fd = s.net == NET_ISOLATED ? netpool_take(f->body, f->body_len, s.id, &spare_helper)
                : s.net == NET_NONE   ? none_pool_take()
                                      : -1;
  if (s.net != NET_HOST && pool_fd < 0) flags |= CLONE_NEWNET;
  /* Raw clone without a stack has fork semantics and lets the child be PID 1 of a new pid
   * namespace while the keeper itself stays in the host's pid and network namespaces. */
  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    reply_error(reqid, EK_SETUP, "clone container namespaces", errno);
    if (pool_fd >= 0) close(pool_fd); /* a spare is never returned */
    if (spare_helper > 0) outbound_kill_pid(spare_helper);
    goto fail;
  }
  if (pid == 0) {
    /* Keep only what init needs (ctl, stdout, stderr at 3, 4, 5 and the diagnostic fd 2). */
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    int a = fcntl(sp[1], F_DUPFD_CLOEXEC, 1000), o = fcntl(po[1], F_DUPFD_CLOEXEC, 1000),
        er = fcntl(pe[1], F_DUPFD_CLOEXEC, 1000);
    int pn = pool_fd >= 0 ? fcntl(pool_fd, F_DUPFD_CLOEXEC, 1000) : -1;
    int keep = rootfs_child_fds(&s, 6); /* and the prepared fuse fds at 6.. */
    if (nul < 0 || a < 0 || o < 0 || er < 0 || keep < 0 || (pool_fd >= 0 && pn < 0) || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 ||
        dup3(a, 3, O_CLOEXEC) < 0 || dup3(o, 4, O_CLOEXEC) < 0 || dup3(er, 5, O_CLOEXEC) < 0)
      _exit(1);
    if (pn >= 0) { /* then the prepared network namespace */
      if (dup3(pn, keep, O_CLOEXEC) < 0) _exit(1);
      s.pool_netns = keep++;
    }
    syscall(SYS_close_range, keep, ~0U, 0);
    /* init is a copy of the keeper: drop the keeper's buffers (the spec was copied out of them);
     * init gives the free heap pages back once it answered START. */
    reader_free(&K.in);
    worker_child_release();
    forward_child_release();
    init_main(&s, 3, 4, 5);
  }
  close(sp[1]);
  close(po[1]);
  close(pe[1]);
  rootfs_prepared_close(&s);
  c->fuse_pid = s.fuse_pid;
  c->id = steal_pointer(&s.id);
  c->state_dir = steal_pointer(&s.state_dir);
  c->pid = pid;
  c->net = s.net;
  c->seccomp = s.proc.seccomp;
  c->no_new_privs = s.proc.no_new_privs;
  if (pool_fd >= 0) close(pool_fd); /* init holds the namespace now */
  if (pool_fd >= 0 && s.net == NET_ISOLATED) {
    /* Should the spare's helper have died meanwhile, the OUTBOUND starts one as today (the tap is there). */
    if (outbound_adopt(spare_helper, c->id))
      c->pooled_net = c->prepared_net = c->net_ready = true;
    else
      outbound_kill_pid(spare_helper);
    /* The next spare is made now, while init mounts the root (the other core), not once the keeper
     * is idle: in a loop of back-to-back starts that came too late (slirp4netns takes ~7 ms to get
     * ready) and every other start made its own helper. */
    netpool_refill();
  }
  c->ctl = sp[0];
  c->out[0] = po[0];
  c->out[1] = pe[0];
  c->state = C_CREATING;
  c->create_req = reqid;
  c->w_ctl = (struct watch){ctl_readable, c, 0};
  c->w_out[0] = (struct watch){out_readable, c, 0};
  c->w_out[1] = (struct watch){out_readable, c, 1};
  set_nonblock(c->out[0], true);
  set_nonblock(c->out[1], true);
  /* Requests to init (sockets for the forwarder) must not block the loop when init lags behind:
   * a full socket fails that one request (EAGAIN), as any failed send does. */
  set_nonblock(c->ctl, true);
  if ((r = loop_add(c->ctl, EPOLLIN, &c->w_ctl)) < 0 || (r = loop_add(c->out[0], EPOLLIN, &c->w_out[0])) < 0 ||
      (r = loop_add(c->out[1], EPOLLIN, &c->w_out[1])) < 0) {
    /* Unwatched, the container could never be answered: it goes now, the request fails. */
    kill(pid, SIGKILL);
    if (c->fuse_pid > 0) kill(c->fuse_pid, SIGKILL);
    outbound_container_gone(c->id);
    TEMP_FAILURE_RETRY(waitpid(pid, NULL, 0));
    loop_del_close(&c->ctl);
    loop_del_close(&c->out[0]);
    loop_del_close(&c->out[1]);
    log_close(&c->log);
    free(c->id);
    free(c->state_dir);
    free(c);
    spec_free_container(&s);
    reply_error(reqid, EK_RESOURCES, "create: watch the container's pipes", -r);
    return;
  }
  c->next = K.containers;
  K.containers = c;
  spec_free_container(&s);
  return;
fail:
  for (int i = 0; i < 2; i++) {
    if (sp[i] >= 0) close(sp[i]);
    if (po[i] >= 0) close(po[i]);
    if (pe[i] >= 0) close(pe[i]);
  }
  rootfs_prepared_close(&s);
  log_close(&c->log);
  free(c);
  spec_free_container(&s);
}

static struct container *need_container(uint32_t reqid, const sw_frame_view *f, const char *op) {
  cleanup_free char *id = spec_get_str(f->body, f->body_len, T_ID);
  struct container *c = id ? find(id) : NULL;
  if (!c) {
    char stage[64];
    snprintf(stage, sizeof stage, "%s: no such container", op);
    reply_error(reqid, EK_NO_CONTAINER, stage, ESRCH);
  }
  return c;
}

/*
 * START may come right behind CREATE, before its answer (Node sends it so when nothing has to happen
 * between the two: no cgroup to join, network, files or ports): it waits here and goes to init as
 * soon as init reports CREATED, one round trip to Node fewer. A CREATE that fails fails it too.
 * An isolated container's START comes so with IF_PREPARED (behind its OUTBOUND): its network must be
 * ready before the process runs, which only a prepared namespace's helper is at once; without one it
 * is declined (NOT_PREPARED), and Node sends START again once its helper is ready.
 */
static void op_start(uint32_t reqid, const sw_frame_view *f) {
  struct container *c = need_container(reqid, f, "start");
  if (!c) return;
  uint64_t if_prepared = 0;
  spec_get_uint(f->body, f->body_len, T_IF_PREPARED, &if_prepared);
  if (if_prepared && !(c->prepared_net && outbound_is_ready(c->id))) {
    reply_error(reqid, EK_NOT_PREPARED, "start: the container's network is not prepared yet", EAGAIN);
    return;
  }
  if (c->state == C_CREATING && !c->start_queued && !c->remove_req) {
    c->start_queued = reqid;
    return;
  }
  if (c->state != C_CREATED) {
    reply_error(reqid, EK_CONTAINER_STATE, "start: container is not in the created state", EINVAL);
    return;
  }
  start_now(c, reqid);
}

static void start_now(struct container *c, uint32_t reqid) {
  struct init_msg m = {.kind = IM_START};
  int r = init_send(c->ctl, &m, -1);
  if (r < 0) {
    reply_error(reqid, EK_CONTAINER_STATE, "start: signal init", -r);
    return;
  }
  c->state = C_STARTING;
  c->start_req = reqid;
}

static void op_kill(uint32_t reqid, const sw_frame_view *f) {
  struct container *c = need_container(reqid, f, "kill");
  if (!c) return;
  uint64_t sig = SIGKILL;
  spec_get_uint(f->body, f->body_len, T_SIGNAL, &sig);
  /* init forwards everything but SIGKILL, which ends the whole pid namespace at once. */
  if (!c->reaped && kill(c->pid, (int)sig) < 0 && errno != ESRCH) {
    reply_error(reqid, EK_CONTAINER_STATE, "kill", errno);
    return;
  }
  reply_ok(reqid);
}

static void op_remove(uint32_t reqid, const sw_frame_view *f) {
  cleanup_free char *id = spec_get_str(f->body, f->body_len, T_ID);
  struct container *c = id ? find(id) : NULL;
  if (!c) { /* idempotent */
    reply_ok(reqid);
    return;
  }
  if (c->remove_req) {
    reply_error(reqid, EK_CONTAINER_STATE, "remove: already being removed", EBUSY);
    return;
  }
  c->remove_req = reqid;
  uint64_t keep = 0;
  spec_get_uint(f->body, f->body_len, T_KEEP, &keep);
  c->keep_dir = keep != 0;
  if (c->reaped) {
    finish_remove(c);
    return;
  }
  kill(c->pid, SIGKILL);
}

static void op_exec(uint32_t reqid, const sw_frame_view *f) {
  struct container *c = need_container(reqid, f, "exec");
  if (!c) return;
  if (c->reaped || (c->state != C_RUNNING && c->state != C_CREATED)) {
    reply_error(reqid, EK_CONTAINER_STATE, "exec: container is not running", ESRCH);
    return;
  }
  struct proc_spec p;
  sw_error e = {0};
  if (spec_parse_proc(f->body, f->body_len, &p, &e) < 0) {
    reply_error(reqid, EK_BAD_REQUEST, e.stage, e.errnum);
    spec_free_proc(&p);
    return;
  }
  p.seccomp = c->seccomp;
  p.no_new_privs = c->no_new_privs;
  if (p.seccomp == SW_SECCOMP_DEFAULT && !(p.filter = filter_for_caps(p.caps, &e))) {
    reply_error(reqid, e.kind ? e.kind : EK_SECCOMP, e.stage, e.errnum);
    spec_free_proc(&p);
    return;
  }
  uint64_t chunked = 0;
  spec_get_uint(f->body, f->body_len, T_CHUNKED, &chunked);
  struct exec_job job = {.init_pid = c->pid, .proc = &p, .has_stdin = chunked != 0};
  int r = worker_spawn_in(c->ns, reqid, EK_SETUP, exec_worker, &job, -1, job.has_stdin);
  if (r < 0) reply_error(reqid, EK_RESOURCES, "exec: fork", -r);
  spec_free_proc(&p);
}

static void op_path_job(uint32_t reqid, const sw_frame_view *f, worker_fn fn, bool needs_container) {
  struct path_job job = {0};
  const int *ns = NULL;
  job.root = spec_get_str(f->body, f->body_len, T_ROOTFS);
  job.path = spec_get_str(f->body, f->body_len, T_PATH);
  job.list = spec_get_str(f->body, f->body_len, T_LIST_FILE);
  job.body = f->body;
  job.body_len = f->body_len;
  uint64_t chunked = 0;
  spec_get_uint(f->body, f->body_len, T_CHUNKED, &chunked);
  job.chunked = (fn == put_worker || fn == get_worker) && chunked;
  if (needs_container) {
    struct container *c = need_container(reqid, f, "files");
    if (!c) goto out;
    if (c->reaped) {
      reply_error(reqid, EK_CONTAINER_STATE, "files: container is not running", ESRCH);
      goto out;
    }
    job.init_pid = c->pid;
    ns = c->ns;
  }
  int r = worker_spawn_in(ns, reqid, EK_FILES, fn, &job, -1, job.chunked);
  if (r < 0) reply_error(reqid, EK_RESOURCES, "fork worker", -r);
out:
  free(job.root);
  free(job.path);
  free(job.list);
}

static void dispatch(const sw_frame_view *f) {
  switch (f->type) {
  case FR_CREATE: op_create(f->reqid, f); break;
  case FR_START: op_start(f->reqid, f); break;
  case FR_KILL: op_kill(f->reqid, f); break;
  case FR_REMOVE: op_remove(f->reqid, f); break;
  case FR_EXEC: op_exec(f->reqid, f); break;
  case FR_CHOWN_LIST: op_path_job(f->reqid, f, chown_list_worker, false); break;
  case FR_RMTREE: {
    /* Node's own undo of a state dir REMOVE already handed to a child (or that child already
     * deleted): answered as that REMOVE was, without a worker. */
    cleanup_free char *path = spec_get_str(f->body, f->body_len, T_PATH);
    struct stat st;
    if (path && (removal_pending(path) || (path[0] == '/' && lstat(path, &st) < 0 && errno == ENOENT)))
      reply_ok(f->reqid);
    else
      op_path_job(f->reqid, f, rmtree_worker, false);
    break;
  }
  case FR_PUT: op_path_job(f->reqid, f, put_worker, true); break;
  case FR_GET: op_path_job(f->reqid, f, get_worker, true); break;
  case FR_PUBLISH: {
    cleanup_free char *id = spec_get_str(f->body, f->body_len, T_ID);
    struct container *c = id ? find(id) : NULL;
    if (!c || c->reaped) {
      reply_error(f->reqid, EK_NO_CONTAINER, "publish: no such container", ESRCH);
      break;
    }
    forward_publish(f->reqid, c->id, c->ctl, f->body, f->body_len);
    break;
  }
  case FR_DATA: {
    /* Input for a running PUT/EXEC. Data for a request that already ended (it failed early, the
     * process exited) is dropped: Node stops sending once the answer arrives. */
    const uint8_t *data = NULL;
    size_t dlen = 0;
    sw_tlv_iter it;
    sw_tlv t;
    tlv_iter_init(&it, f->body, f->body_len);
    while (tlv_next(&it, &t) > 0)
      if (t.tag == T_DATA) data = t.val, dlen = t.len;
    uint64_t eof = 0, cancel = 0;
    spec_get_uint(f->body, f->body_len, T_EOF, &eof);
    if (spec_get_uint(f->body, f->body_len, T_CANCEL, &cancel) && cancel) {
      worker_cancel(f->reqid);
      break;
    }
    worker_input(f->reqid, data, dlen, eof != 0);
    break;
  }
  case FR_UNPUBLISH: forward_unpublish(f->reqid, f->body, f->body_len); break;
  case FR_HOST_FORWARD: {
    struct container *c = need_container(f->reqid, f, "host access");
    if (!c) break;
    if (c->reaped || c->remove_req || c->net == NET_HOST) {
      reply_error(f->reqid, EK_HOST_ACCESS, c->net == NET_HOST ? "host access: the container shares the host network namespace" : "host access: container is not running",
                  c->net == NET_HOST ? EINVAL : ESRCH);
      break;
    }
    forward_host_port(f->reqid, c->id, c->ctl, f->body, f->body_len);
    break;
  }
  case FR_OUTBOUND: {
    struct container *c = need_container(f->reqid, f, "outbound");
    if (!c) break;
    if (c->reaped || c->remove_req || c->net != NET_ISOLATED) {
      reply_error(f->reqid, EK_CONTAINER_STATE, c->net != NET_ISOLATED ? "outbound: the container has no network of its own" : "outbound: container is not running",
                  c->net != NET_ISOLATED ? EINVAL : ESRCH);
      break;
    }
    if (c->pooled_net) {
      /* Its helper was attached before the container existed, with the command line CREATE named. */
      c->pooled_net = false;
      outbound_answer_adopted(f->reqid, c->id);
      break;
    }
    if (c->net_ready) {
      outbound_start(f->reqid, c->id, c->pid, f->body, f->body_len);
      break;
    }
    if (c->outbound_req) {
      reply_error(f->reqid, EK_CONTAINER_STATE, "outbound: another one already waits for the container's network", EBUSY);
      break;
    }
    c->outbound_body = xmalloc(f->body_len ? f->body_len : 1);
    if (f->body_len) memcpy(c->outbound_body, f->body, f->body_len);
    c->outbound_len = f->body_len;
    c->outbound_req = f->reqid;
    break;
  }
  case FR_OUTBOUND_STOP: {
    cleanup_free char *id = spec_get_str(f->body, f->body_len, T_ID);
    if (!id) {
      reply_error(f->reqid, EK_BAD_REQUEST, "outbound stop: no container id", EINVAL);
      break;
    }
    struct container *c = find(id);
    if (c) outbound_pending_fail(c, "outbound: stopped before the container's network was ready", ECANCELED);
    outbound_stop(f->reqid, id);
    break;
  }
  case FR_NET_CREATE: network_create(f->reqid, f->body, f->body_len); break;
  case FR_NET_REMOVE: network_remove(f->reqid, f->body, f->body_len); break;
  case FR_NET_ATTACH: {
    struct container *c = need_container(f->reqid, f, "network attach");
    if (!c) break;
    if (c->reaped || c->remove_req) {
      reply_error(f->reqid, EK_CONTAINER_STATE, "network attach: container is not running", ESRCH);
      break;
    }
    if (c->net == NET_HOST) {
      reply_error(f->reqid, EK_CONTAINER_STATE, "network attach: the container shares the host network namespace", EINVAL);
      break;
    }
    network_attach(f->reqid, f->body, f->body_len, c->ns, &c->net_ifs);
    break;
  }
  default: reply_error(f->reqid, EK_BAD_REQUEST, "unknown request type", ENOSYS); break;
  }
}

/* ---- lifetime -------------------------------------------------------------------------------- */

NORETURN static void teardown(void) {
  /* Kill first, wait after: every init dies with SIGKILL (and its pid namespace with it) in
   * parallel, so this takes one scheduling round, not one per container. */
  for (struct container *c = K.containers; c; c = c->next)
    if (!c->reaped) kill(c->pid, SIGKILL);
  worker_kill_all();
  outbound_kill_all();
  forward_shutdown();
  for (struct container *c = K.containers; c; c = c->next)
    if (!c->reaped) TEMP_FAILURE_RETRY(waitpid(c->pid, NULL, 0));
  worker_wait_all();
  /* Removed containers' dirs still being deleted: let those finish, rmtree below would race them. */
  janitor_finish(&J_rm);
  janitor_finish(&J_ns);
  for (struct removal *r = K.removals; r; r = r->next)
    if (!r->cookie) TEMP_FAILURE_RETRY(waitpid(r->pid, NULL, 0));
  /* Node may be gone without removing its containers' cgroups: they are empty now. */
  if (K.dir && K.lockfd > 0) cgroups_remove_below(K.lockfd);
  for (struct container *c = K.containers; c; c = c->next) rmtree(c->state_dir);
  if (K.dir) rmtree(K.dir);
  _exit(0);
}

static void reap_children(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    bool found = false;
    for (struct container *c = K.containers; c; c = c->next)
      if (c->pid == pid && !c->reaped) {
        container_reaped(c, st);
        found = true;
        break;
      }
    if (found || outbound_reaped(pid, st) || netpool_reaped(pid)) continue;
    if (janitor_reaped(&J_rm, pid)) { /* killed: what it had not deleted stays for the sweep */
      while (removal_reaped(pid, st)) {}
      continue;
    }
    if (janitor_reaped(&J_ns, pid)) { /* its exit closed what it held */
      NP.making = false;
      for (struct container *c = K.containers; c; c = c->next)
        if (c->ns_closer == pid) ns_closed(c->ns_cookie, 0);
      continue;
    }
    if (removal_reaped(pid, st)) continue;
    for (struct container *c = K.containers; c; c = c->next)
      if (c->ns_closer == pid) {
        c->ns_closer = 0;
        found = true;
        if (c->remove_req) finish_remove(c);
        break;
      }
    if (found) continue;
    /* A reaped pid may be reused: never signal it again. */
    for (struct container *c = K.containers; c; c = c->next)
      if (c->fuse_pid == pid) c->fuse_pid = 0;
    worker_reaped(pid, st); /* or a network-creating child: nothing to do */
  }
}

/* Frames from Node. A frame the keeper cannot take fails its own request, never the keeper: its
 * declared length is skipped, so the stream stays in sync. */
static void input_readable(struct watch *w, uint32_t events) {
  (void)w;
  (void)events;
  for (;;) {
    sw_frame_view f;
    int r;
    while ((r = reader_next(&K.in, &f)) != 0) {
      if (r > 0)
        dispatch(&f);
      else if (r == -EMSGSIZE)
        reply_error(f.reqid, EK_FRAME, "frame larger than the 64 MiB limit", EMSGSIZE);
      else
        reply_error(0, EK_FRAME, "frame shorter than its header", EBADMSG);
    }
    long n = reader_fill(&K.in, 0);
    if (n == -EAGAIN || n == -EINTR) return;
    if (n <= 0) teardown(); /* Node is gone (EOF) or the pipe broke */
  }
}

/* A watched root process of the test run died: its workers may live on (vitest's and jest's forked
 * workers finish their current file first), but their containers go now, as with Node's EOF. */
static void owner_exited(struct watch *w, uint32_t events) {
  (void)events;
  logmsg("the test run's main process %d exited: removing this keeper's containers", K.owner_pid[w->idx]);
  teardown();
}

static void watch_owners(char **specs, int n) {
  for (int i = 0; i < SW_MAX_OWNERS; i++) K.owner_fd[i] = -1;
  for (int i = 0; i < n && i < SW_MAX_OWNERS; i++) {
    int pid = 0, fd = owner_open(specs[i], &pid);
    if (fd == -ESRCH) {
      /* Started for a run that is already over: nothing may be created for it. */
      logmsg("the test run's main process %s is gone: not starting", specs[i]);
      _exit(0);
    }
    if (fd < 0) {
      logmsg("cannot watch the test run's main process %s: %s", specs[i], strerror(-fd));
      continue;
    }
    K.owner_fd[i] = fd;
    K.owner_pid[i] = pid;
  }
}

/* Removes keeper-<pid> siblings whose keeper died: the lock is free and the pid is gone. */
static void sweep(const char *root, const char *self) {
  cleanup_fd int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return;
  DIR *d = fdopendir(dup(rfd));
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (strncmp(de->d_name, "keeper-", 7) || !strcmp(de->d_name, self)) continue;
    long pid = strtol(de->d_name + 7, NULL, 10);
    int fd = openat(rfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    /* A keeper creates its dir and locks it right after; the pid check covers that window. */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
      cgroups_remove_below(fd); /* the dead keeper's containers' cgroups, listed in their dirs */
      int r = rmtree_at(rfd, de->d_name);
      logmsg("swept %s/%s%s", root, de->d_name, r < 0 ? " (partly)" : "");
    }
    close(fd);
  }
  closedir(d);
}

static void setup_state_dir(const char *root) {
  char self[64];
  snprintf(self, sizeof self, "keeper-%d", (int)getpid());
  K.dir = xasprintf("%s/%s", root, self);
  if (mkdir(K.dir, 0700) < 0 && errno != EEXIST) die_with_error("mkdir %s", K.dir);
  K.lockfd = open(K.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (K.lockfd < 0 || flock(K.lockfd, LOCK_EX | LOCK_NB) < 0) die_with_error("lock %s", K.dir);
  sweep(root, self);
}

static void signal_readable(struct watch *w, uint32_t events) {
  (void)w;
  (void)events;
  struct signalfd_siginfo si;
  bool chld = false;
  while (read(K.sigfd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGCHLD)
      chld = true;
    else
      teardown();
  }
  if (chld) reap_children();
}

/*
 * libseccomp takes tens of ms to compile Docker's profile (36 ms in a keeper at load 20, strace), which
 * the first CREATE of every process paid before it could clone. Compiled for the default capabilities
 * right after HELLO, while Node looks up the image and builds the spec (165 ms there in the same
 * trace), so the first CREATE finds it in filter_for_caps' cache. A failure is left for CREATE to
 * report (nothing is cached then).
 */
static void precompile_filter(void) {
  sw_error e;
  (void)filter_for_caps(SW_DEFAULT_CAPS, &e);
}

int keeper_main(const char *state_root, char **owners, int n_owners) {
  /* No fastbins: a freed small chunk is merged at once instead of waiting in a fastbin for the next
   * malloc_consolidate. Every fork shares the keeper's heap copy-on-write, and a consolidation in a
   * child (init's malloc_trim, a large free in a worker or in the rmtree of a removal) wrote chunk
   * headers across the whole heap the seccomp compile left fragmented: a page fault and a page copy
   * for each page, 40% of all CPU time spent per container (perf, `quick.mjs run-none 40`). */
  mallopt(M_MXFAST, 0);
  /* Writes to a dead Node must fail with EPIPE, not kill us before we clean up. */
  signal(SIGPIPE, SIG_IGN);
  process_note_signals(); /* the dispositions every fork inherits (process_reset_signals) */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);
  set_nonblock(1, false);

  rootfs_init();
  /* Containers join a new session keyring, unless keyctl is blocked around us (then it is for
   * them too): say so once, for SLIPWAY debug logs. */
  if (syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) < 0 && (errno == ENOSYS || errno == EPERM))
    logmsg("session keyrings unavailable (%s): containers keep the keeper's, which they cannot use either", strerror(errno));
  /* Opened before the user namespace: pidfd_open needs no privilege, but the earlier the pid is
   * pinned, the smaller the window in which it can be reused. */
  watch_owners(owners, n_owners);
  K.map_kind = userns_enter(&K.in);
  setup_state_dir(state_root);

  K.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (loop_init() < 0 || K.sigfd < 0) die_with_error("epoll/signalfd");
  set_nonblock(0, true);
  K.w_in = (struct watch){input_readable, NULL, 0};
  K.w_sig = (struct watch){signal_readable, NULL, 0};
  if (loop_add(0, EPOLLIN, &K.w_in) < 0 || loop_add(K.sigfd, EPOLLIN, &K.w_sig) < 0) die_with_error("epoll_ctl");
  for (int i = 0; i < SW_MAX_OWNERS; i++) {
    if (K.owner_fd[i] < 0) continue;
    K.w_owner[i] = (struct watch){owner_exited, NULL, i};
    if (loop_add(K.owner_fd[i], EPOLLIN, &K.w_owner[i]) < 0) die_with_error("epoll_ctl pidfd");
  }
  if (forward_init() < 0) die_with_error("forward: timerfd");
  if (out_init() < 0) die_with_error("output queue");
  /* The pool hears of outbound helpers through these (outbound.c sits below netpool.c). */
  outbound_set_events(&(struct outbound_events){
      .helper_ready = netpool_outbound_ready, .spare_ready = netpool_spare_ready, .spare_gone = netpool_spare_gone, .helper_gone = keeper_helper_gone});

  /* Forked before HELLO (they are there once Node sees the keeper) and before the seccomp compile,
   * while the heap they share copy-on-write is smallest; a failure leaves the jobs to children of
   * their own (release_ns, removal_spawn). */
  J_ns.netns_done = none_pool_made;
  (void)janitor_start(&J_ns);
  (void)janitor_start(&J_rm);

  sw_buf b = {0};
  buf_begin(&b, FR_HELLO, 0);
  buf_put_u32(&b, T_VERSION, SW_PROTOCOL_VERSION);
  buf_put_str(&b, T_BUILD_ID, SW_BUILD_ID);
  buf_put_str(&b, T_STATE_DIR, K.dir);
  buf_put_u32(&b, T_PID, (uint32_t)getpid());
  send_frame(&b);
  buf_free(&b);
  precompile_filter();
  /* The compile's transient memory is free now: give its pages back once, so each fork maps less. */
  malloc_trim(0);

  /* Frames that arrived together with MAPPED are already buffered: take them before waiting. */
  input_readable(&K.w_in, 0);
  loop_run(NULL);
}

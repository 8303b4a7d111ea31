#include "init.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "netlink.h"
#include "process.h"
#include "rootfs.h"

int init_send(int fd, const struct init_msg *m, int pass_fd) {
  return send_with_fd(fd, m, sizeof *m, pass_fd);
}

int init_send_result(int sock, int fd, const sw_error *e) {
  struct init_msg m = {.kind = 0};
  if (fd < 0) {
    m.err = e->errnum;
    memcpy(m.stage, e->stage, sizeof m.stage - 1);
  }
  return init_send(sock, &m, fd);
}

long init_recv(int fd, struct init_msg *m, int *fd_out) {
  struct iovec iov = {m, sizeof *m};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (fd_out) *fd_out = -1;
  memset(m, 0, sizeof *m);
  long n = TEMP_FAILURE_RETRY(recvmsg(fd, &mh, MSG_CMSG_CLOEXEC));
  if (n < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      memcpy(&got, CMSG_DATA(c), sizeof got);
      if (fd_out && *fd_out < 0)
        *fd_out = got;
      else
        close(got);
    }
  }
  return n;
}

static void send_error(int ctl, uint32_t kind, const sw_error *e) {
  struct init_msg m = {.kind = kind, .err = e->errnum, .aux = (uint32_t)e->kind};
  memcpy(m.stage, e->stage, sizeof m.stage - 1);
  init_send(ctl, &m, -1);
}

/*
 * aux 4: a listening TCP socket on SW_HOST_ALIAS_IP:port for host access (the keeper accepts on
 * it and connects to the host's 127.0.0.1:port). The address goes on lo the first time. The socket
 * is bound to lo: only this namespace's own connections arrive on lo, so another container that
 * routes 169.254.1.2 to us over a user network cannot use the forward. Returns fd or -errno.
 */
static int host_alias_listener(uint16_t port, sw_error *e) {
  static bool have_addr;
  if (!have_addr) {
    cleanup_fd int nl = nl_open();
    if (nl < 0) return sw_fail(e, -nl, "host access: open rtnetlink socket");
    int lo = nl_ifindex("lo");
    if (lo < 0) return sw_fail(e, -lo, "host access: find lo");
    struct in_addr a = {htonl(SW_HOST_ALIAS_IP)};
    int r = nl_add_addr4(nl, lo, a, 32);
    if (r < 0 && r != -EEXIST) return sw_fail(e, -r, "host access: add 169.254.1.2/32 to lo");
    have_addr = true;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sw_fail(e, errno, "host access: socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
  tcp_loopback_cc(fd);                                        /* so is this: bound to lo */
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(SW_HOST_ALIAS_IP)}};
  int r = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0) r = sw_fail(e, errno, "host access: bind to lo");
  else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) r = sw_fail(e, errno, "host access: bind 169.254.1.2:%u in the container", port);
  else if (listen(fd, 128) < 0) r = sw_fail(e, errno, "host access: listen");
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

/* A socket inside the container's network namespace, connecting to 127.0.0.1:port; aux 3: an
 * unconnected TCP sockets (value of them) the keeper connects itself later (its pool); aux 4: see
 * host_alias_listener. */
static void make_socket(int ctl, const struct init_msg *req) {
  struct init_msg m = {.kind = IM_SOCKET_REPLY, .tag = req->tag};
  if (req->aux == 4) {
    sw_error e = {0};
    int fd = req->value > 0 && req->value <= 65535 ? host_alias_listener((uint16_t)req->value, &e)
                                                   : sw_fail(&e, EINVAL, "host access: bad port");
    if (fd < 0) {
      m.err = e.errnum;
      memcpy(m.stage, e.stage, sizeof m.stage - 1);
    }
    init_send(ctl, &m, fd);
    if (fd >= 0) close(fd);
    return;
  }
  int type = req->aux == 2 ? SOCK_DGRAM : SOCK_STREAM;
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    m.err = errno;
    init_send(ctl, &m, -1);
    return;
  }
  if (type == SOCK_STREAM) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* the relay passes small writes on at once */
    tcp_loopback_cc(fd);                                        /* it only ever connects to 127.0.0.1 */
  }
  if (req->aux == 3) {
    /* value = how many; each goes in its own reply. */
    for (int32_t i = 0;;) {
      init_send(ctl, &m, fd);
      close(fd);
      if (++i >= req->value) return;
      fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        m.err = errno;
        init_send(ctl, &m, -1);
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      tcp_loopback_cc(fd);
    }
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)req->value)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
    m.err = errno;
    close(fd);
    init_send(ctl, &m, -1);
    return;
  }
  init_send(ctl, &m, fd);
  close(fd);
}

/*
 * A persistent tap device named `name` in the container's (new) network namespace, for
 * slirp4netns/pasta to attach to (they open a tap by name and reuse an existing one). Persistent,
 * so when the network helper exits, closing its fd only detaches: without it, that close
 * unregisters the device synchronously (RCU waits, 15-45 ms here), and whoever stops the helper
 * waits for that. A persistent device goes with the namespace, asynchronously, in the kernel's
 * netns cleanup. Best effort: without /dev/net/tun the helper fails or makes its own as before.
 */
void init_make_tap(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) == 0) (void)ioctl(fd, TUNSETPERSIST, 1);
  close(fd);
}

/*
 * Unreachable routes for the spec's subnets (the user networks' 10.89.0.0/16): without them, a
 * connect to such an address would take eth0's default route and slirp4netns/pasta would try it
 * on the host's network. With them it fails at once (EHOSTUNREACH) and no packet leaves. Done by
 * init, not by the attach of a network, so that containers on no network are covered too; an
 * attach's connected route (a /24) is more specific and still wins for that network.
 */
static int add_unreachable_routes(const struct container_spec *s, sw_error *e) {
  if (s->net != NET_ISOLATED || !s->nunreach) return 0;
  cleanup_fd int nl = nl_open();
  if (nl < 0) return sw_fail(e, -nl, "open rtnetlink socket");
  for (unsigned i = 0; i < s->nunreach; i++) {
    int r = nl_add_unreachable4(nl, s->unreach[i], s->unreach_len[i]);
    if (r < 0 && r != -EEXIST) {
      char b[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &s->unreach[i], b, sizeof b);
      return sw_fail(e, -r, "add unreachable route %s/%u", b, s->unreach_len[i]);
    }
  }
  return 0;
}

static int exit_code_for(int err) { return err == ENOENT ? 127 : 126; }

/* What the container's process needs from init between its clone and its exec. */
struct child_args {
  const struct proc_spec *proc;
  int nullfd, out_w, err_w, ep_w;
};

/*
 * The container's process until its execve. It runs in init's memory (CLONE_VM | CLONE_VFORK, as
 * posix_spawn): init is suspended until the exec or the exit, and nothing here returns into init's
 * frames. Only per-task state changes (fds, session, signal dispositions, ids, capabilities, filter,
 * keyring), none of init's, but for `environ`, which execvp reads PATH from and init never uses.
 * With its own copy of init's page tables it took a fork, a copy-on-write fault for every page it
 * wrote, and the teardown of that copy at exec.
 */
static int child_main(void *arg) {
  const struct child_args *a = arg;
  sw_error e = {0};
  setsid();
  if (dup2(a->nullfd, 0) < 0 || dup2(a->out_w, 1) < 0 || dup2(a->err_w, 2) < 0) return 126;
  process_exec_started(a->proc, &e);
  /* Errors as data: the stage and errno go to init through the CLOEXEC pipe, which stays empty
   * when exec succeeds. */
  (void)!write(a->ep_w, &e, sizeof e);
  dprintf(2, "slipway: %s: %s\n", e.stage, strerror(e.errnum));
  /* Returned, not _exit(): clone()'s wrapper ends the task (exit) with this status. A noreturn call
   * here made ASan try to unpoison a stack it does not know (false-positive warning). */
  return exit_code_for(e.errnum);
}

/* The child's stack: used by one child, once, while init waits. */
static char child_stack[256 * 1024] __attribute__((aligned(64)));

void init_main(struct container_spec *s, int ctl, int out_w, int err_w) {
  sw_error e = {0};
  /* The keeper may die at any moment; we must not outlive it (the whole pid namespace goes with
   * us). The death signal is checked through ctl: EOF there means the keeper is gone. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  set_process_title("slipway-init");

  /* Block every catchable signal and read them from a signalfd: as PID 1 of a pid namespace,
   * signals with default disposition would be dropped, but blocked signals are queued. */
  sigset_t all;
  sigfillset(&all);
  int sync_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGKILL, SIGSTOP};
  for (size_t i = 0; i < sizeof sync_sigs / sizeof *sync_sigs; i++) sigdelset(&all, sync_sigs[i]);
  sigprocmask(SIG_BLOCK, &all, NULL);
  int sfd = signalfd(-1, &all, SFD_CLOEXEC);
  if (sfd < 0) {
    sw_fail(&e, errno, "signalfd");
    send_error(ctl, IM_ERROR, &e);
    _exit(1);
  }
  if (s->pool_netns > 0) {
    /* A prepared namespace: isolated (netpool.h), lo up, the tap made, slirp4netns attached and
     * ready; none (keeper.c none_pool), lo up. Joined before anything reads or mounts the network
     * namespace (/sys, /proc/sys/net, sockets). */
    if (setns(s->pool_netns, CLONE_NEWNET) < 0) {
      sw_fail(&e, errno, "join the prepared network namespace");
      send_error(ctl, IM_ERROR, &e);
      _exit(1);
    }
    close(s->pool_netns);
  } else if (s->net == NET_ISOLATED) {
    if (s->tap) init_make_tap(s->tap);
    /* The keeper starts the outbound helper (slirp4netns) now, beside the root's setup below rather
     * than after it: its start (fork, exec, sandbox, tap configuration) was the largest step of a boot
     * after CREATE. It attaches to the persistent tap made above (made first, or it would make a
     * non-persistent one of its own); START still waits for its ready byte. A failed send means the
     * keeper is gone: the setup's own messages find that out. */
    struct init_msg net = {.kind = IM_NET};
    (void)init_send(ctl, &net, -1);
  }
  /* Opened before pivot_root: this is the host's /dev/null, the process's stdin. */
  int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nullfd < 0 || rootfs_setup(s, &e) < 0 || add_unreachable_routes(s, &e) < 0) {
    if (nullfd < 0) sw_fail(&e, errno, "open /dev/null");
    send_error(ctl, IM_ERROR, &e);
    _exit(1);
  }
  struct init_msg m = {.kind = IM_CREATED};
  if (init_send(ctl, &m, -1) < 0) _exit(1);

  pid_t child = -1;
  bool started = false;
  struct pollfd pfd[2] = {{.fd = ctl, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (TEMP_FAILURE_RETRY(poll(pfd, 2, -1)) < 0) _exit(1);
    if (pfd[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
          int st;
          pid_t p;
          while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            if (p != child) continue; /* an orphan reparented to us: reaped, nothing else */
            m = (struct init_msg){.kind = IM_EXIT, .value = st};
            init_send(ctl, &m, -1);
            /* Exiting as PID 1 makes the kernel SIGKILL everything left in the namespace. */
            _exit(0);
          }
        } else if (started) {
          process_kill(child, sig, s->proc.caps);
        } else {
          /* Not started yet: a signal ends the container as if the process had received it. */
          m = (struct init_msg){.kind = IM_EXIT, .value = sig & 0x7f};
          init_send(ctl, &m, -1);
          _exit(0);
        }
      }
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      struct init_msg req;
      long n = init_recv(ctl, &req, NULL);
      if (n <= 0) {
        /* The keeper is gone: take the container with us. */
        if (started) process_kill(child, SIGKILL, s->proc.caps);
        _exit(1);
      }
      if (req.kind == IM_SOCKET_REQ) {
        make_socket(ctl, &req);
      } else if (req.kind == IM_START && !started) {
        /* From here on container processes exist. Not dumpable: /proc/1/{mem,fd,environ,ns…} and
         * ptrace need CAP_SYS_PTRACE in the user namespace our memory was made in (the host's, where
         * the keeper was exec'd), which no container process has, SYS_PTRACE added or not. The
         * keeper opened our namespaces at CREATED. The process inherits this until its execve. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
          sw_fail(&e, errno, "init: PR_SET_DUMPABLE");
          send_error(ctl, IM_START_FAILED, &e);
          _exit(1);
        }
        /* Keyring and seccomp filter once, here: the process inherits both. */
        if (process_prepare_start(&s->proc, &e) < 0) {
          send_error(ctl, IM_START_FAILED, &e);
          _exit(1);
        }
        int ep[2];
        if (pipe2(ep, O_CLOEXEC) < 0) {
          sw_fail(&e, errno, "pipe");
          send_error(ctl, IM_START_FAILED, &e);
          _exit(1);
        }
        struct child_args ca = {.proc = &s->proc, .nullfd = nullfd, .out_w = out_w, .err_w = err_w, .ep_w = ep[1]};
        child = clone(child_main, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
        if (child < 0) {
          sw_fail(&e, errno, "clone the container's process");
          send_error(ctl, IM_START_FAILED, &e);
          _exit(1);
        }
        close(ep[1]);
        /* Only the process holds the log pipes now: their EOF means it (and its children) closed them. */
        close(out_w);
        close(err_w);
        started = true;
        /* Our privileged setup is over: what is left (sockets for the forwarder, reaping, forwarding
         * signals) needs no more than the container's own capabilities and seccomp profile. */
        if (process_confine_init(&s->proc, &e) < 0) {
          kill(child, SIGKILL);
          send_error(ctl, IM_START_FAILED, &e);
          _exit(1);
        }
        sw_error ce;
        ssize_t got = read_full(ep[0], &ce, sizeof ce);
        close(ep[0]);
        if (got == (ssize_t)sizeof ce) {
          send_error(ctl, IM_START_FAILED, &ce);
        } else {
          m = (struct init_msg){.kind = IM_STARTED};
          init_send(ctl, &m, -1);
        }
        /* The keeper's freed heap pages back, so our RSS is what init itself uses; after the answer,
         * not on the start's path. */
        malloc_trim(0);
      }
    }
  }
}

/*
 * User networks. Each network is a network namespace that only the keeper holds (by an open fd
 * of it: the namespace lives exactly as long as that fd), with a bridge br0 and no address. A
 * container joins with a veth pair: eth<N> with the container's address in its own namespace,
 * the peer enslaved to br0. Containers on one network therefore share one L2 segment; different
 * networks are different namespaces with nothing between them.
 *
 * Why forked children do the work: a netlink socket acts on the namespace it was opened in, and
 * the keeper must never leave the host namespace (it binds published ports there, and rootless it
 * could not setns back). Children in the keeper's user namespace may enter any namespace the
 * keeper owns: the new network namespace and the containers' ones.
 */
#include "network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "init.h"
#include "loop.h"
#include "netlink.h"
#include "process.h"
#include "reply.h"
#include "spec.h"
#include "worker.h"

#define BRIDGE "br0"
#define CREATE_TIMEOUT_S 10

struct network {
  struct network *next;
  char *id;
  int nsfd;         /* -1 while being created */
  uint32_t subnet;
  uint32_t create_req; /* the NET_CREATE still to answer, or 0 */
  pid_t pid;        /* the creating child */
  int sock;         /* its answer, or -1 */
  int timer;        /* gives up on it after CREATE_TIMEOUT_S, or -1 */
  struct watch w, wt;
};

static struct {
  struct network *nets;
  uint32_t next_peer;
} N;

static struct network *find_net(const char *id) {
  for (struct network *n = N.nets; n; n = n->next)
    if (!strcmp(n->id, id)) return n;
  return NULL;
}

/* ---- NET_CREATE ------------------------------------------------------------------------------ */

static int add_bridge(int nl, void *arg, sw_error *e) {
  (void)arg;
  int r = nl_add_bridge(nl, BRIDGE);
  if (r < 0) return sw_fail(e, -r, "create bridge " BRIDGE);
  int br = nl_ifindex(BRIDGE);
  if (br < 0) return sw_fail(e, -br, "find " BRIDGE);
  if ((r = nl_link_up(nl, br, 0)) < 0) return sw_fail(e, -r, "bring " BRIDGE " up");
  return 0;
}

NORETURN static void create_child(int sock) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sw_error e = {0};
  int fd = netns_new_lo_up(add_bridge, NULL, &e); /* lo and br0 up */
  _exit(init_send_result(sock, fd, &e) < 0 ? 1 : 0);
}

static void net_free(void *p) {
  struct network *n = p;
  free(n->id);
  free(n);
}

static void net_unlink(struct network *n) {
  for (struct network **pp = &N.nets; *pp; pp = &(*pp)->next)
    if (*pp == n) {
      *pp = n->next;
      break;
    }
  if (n->nsfd >= 0) close(n->nsfd);
  loop_del_close(&n->sock);
  loop_del_close(&n->timer);
  loop_forget(&n->w);
  loop_forget(&n->wt);
  loop_defer(net_free, n);
}

/* The creating child answered (or died: EOF). The keeper's reaper collects the child. */
static void create_answer(struct watch *w, uint32_t events) {
  (void)events;
  struct network *n = w->obj;
  struct init_msg m;
  int fd = -1;
  long r = init_recv(n->sock, &m, &fd);
  if (r == -EAGAIN || r == -EINTR) return;
  uint32_t req = n->create_req;
  n->create_req = 0;
  if (fd >= 0) {
    n->nsfd = fd;
    loop_del_close(&n->sock);
    loop_del_close(&n->timer);
    loop_forget(&n->w);
    loop_forget(&n->wt);
    reply_ok(req);
    return;
  }
  char stage[600];
  if (r <= 0)
    snprintf(stage, sizeof stage, "network create: network namespace setup: child gave no answer");
  else
    snprintf(stage, sizeof stage, "network create: %.*s", (int)sizeof m.stage, m.stage);
  net_unlink(n);
  reply_error(req, EK_NETWORK, stage, r > 0 && m.err ? m.err : r < 0 ? (int)-r : EIO);
}

/* The child did not answer in time (a wedged rtnl lock, say): it is killed, the request fails. */
static void create_timeout(struct watch *w, uint32_t events) {
  (void)events;
  struct network *n = w->obj;
  uint32_t req = n->create_req;
  n->create_req = 0;
  kill(n->pid, SIGKILL);
  net_unlink(n);
  reply_error(req, EK_NETWORK, "network create: network namespace setup timed out", ETIMEDOUT);
}

/* Forks the child that makes the namespace; the answer comes through the loop (create_answer),
 * so a slow kernel (bridge module loading, a busy rtnl lock) never stalls the other containers. */
static int start_create(struct network *n) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0) return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(sp[0]);
    close(sp[1]);
    return -err;
  }
  if (pid == 0) {
    /* Keep only the answer socket (as 3) and stderr: a copy of a worker's input pipe or of Node's
     * pipes held here would delay someone's EOF for as long as this child lives. */
    process_reset_signals();
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    int hi = fcntl(sp[1], F_DUPFD_CLOEXEC, 1000);
    if (nul < 0 || hi < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup3(hi, 3, O_CLOEXEC) < 0) _exit(1);
    syscall(SYS_close_range, 4, ~0U, 0);
    set_nonblock(3, false);
    create_child(3);
  }
  close(sp[1]);
  n->pid = pid;
  n->sock = sp[0];
  n->w = (struct watch){create_answer, n, 0};
  n->wt = (struct watch){create_timeout, n, 0};
  struct itimerspec its = {.it_value = {.tv_sec = CREATE_TIMEOUT_S}};
  int r = loop_add(n->sock, EPOLLIN, &n->w);
  if (r == 0) {
    n->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (n->timer < 0 || timerfd_settime(n->timer, 0, &its, NULL) < 0) r = -errno;
    else r = loop_add(n->timer, EPOLLIN, &n->wt);
  }
  if (r < 0) {
    kill(pid, SIGKILL);
    loop_del_close(&n->sock);
    loop_del_close(&n->timer);
  }
  return r;
}

void network_create(uint32_t reqid, const uint8_t *body, size_t len) {
  cleanup_free char *id = spec_get_str(body, len, T_NET_ID);
  uint64_t subnet = 0;
  bool has_subnet = spec_get_uint(body, len, T_SUBNET, &subnet);
  if (!id || !*id) {
    reply_error(reqid, EK_BAD_REQUEST, "network create: missing network id", EINVAL);
    return;
  }
  if (find_net(id)) {
    reply_error(reqid, EK_ID_IN_USE, "network create: network id in use", EEXIST);
    return;
  }
  if (has_subnet) {
    if (subnet > 255) {
      reply_error(reqid, EK_BAD_REQUEST, "network create: subnet index must be 0..255", EINVAL);
      return;
    }
    for (struct network *n = N.nets; n; n = n->next)
      if (n->subnet == subnet) {
        reply_error(reqid, EK_SUBNET_IN_USE, "network create: subnet index in use by another network", EEXIST);
        return;
      }
  }
  struct network *n = xcalloc(1, sizeof *n);
  n->nsfd = n->sock = n->timer = -1;
  n->subnet = has_subnet ? (uint32_t)subnet : UINT32_MAX;
  n->create_req = reqid;
  int r = start_create(n);
  if (r < 0) {
    free(n);
    reply_error(reqid, EK_RESOURCES, "network create: fork", -r);
    return;
  }
  /* Listed at once: the id and the subnet are taken while the namespace is being made. */
  n->id = steal_pointer(&id);
  n->next = N.nets;
  N.nets = n;
}

void network_remove(uint32_t reqid, const uint8_t *body, size_t len) {
  cleanup_free char *id = spec_get_str(body, len, T_NET_ID);
  struct network *n = id ? find_net(id) : NULL;
  if (n) {
    if (n->create_req) {
      kill(n->pid, SIGKILL);
      reply_error(n->create_req, EK_NETWORK, "network create: removed while being created", ECANCELED);
    }
    /* The last reference: the kernel destroys the namespace, its bridge and every veth peer in
     * it, which also removes the containers' ends. Attach workers still running hold a dup. */
    net_unlink(n);
  }
  reply_ok(reqid);
}

/* ---- NET_ATTACH ------------------------------------------------------------------------------ */

#define MAX_BLOCKS 8

struct attach_job {
  char ifname[16], peer[16];
  struct in_addr addr;
  unsigned prefix;
  struct in_addr block[MAX_BLOCKS];
  unsigned block_len[MAX_BLOCKS], nblocks;
};

/* Runs in a worker; fd 4 is the network's namespace. */
static void attach_worker(int out, uint32_t reqid, void *arg) {
  const struct attach_job *j = arg;
  const int netns = WORKER_PASS_FD;
  sw_error e = {0};
  int r;
  /* The keeper's fd (worker_spawn_in): /proc/<init>/ns cannot be opened once init is not dumpable. */
  const int cfd = WORKER_NS_FD + SW_NS_NET;
  /* 1. In the container's namespace: the pair, with the peer born in the network's namespace. */
  if (setns(cfd, CLONE_NEWNET) < 0) {
    sw_fail(&e, errno, "network attach: enter the container's network namespace");
    worker_fail(out, reqid, &e);
  }
  close(cfd);
  int nl = nl_open();
  if (nl < 0) {
    sw_fail(&e, -nl, "network attach: open rtnetlink socket");
    worker_fail(out, reqid, &e);
  }
  if ((r = nl_add_veth(nl, j->ifname, j->peer, netns)) < 0) {
    sw_fail(&e, -r, "network attach: create veth %s", j->ifname);
    worker_fail(out, reqid, &e);
  }
  int idx = nl_ifindex(j->ifname);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &j->addr, ip, sizeof ip);
  if (idx < 0) r = sw_fail(&e, -idx, "network attach: find %s", j->ifname);
  else if ((r = nl_add_addr4(nl, idx, j->addr, j->prefix)) < 0)
    sw_fail_k(&e, r == -EEXIST ? EK_ADDRESS_IN_USE : EK_NETWORK, -r, "network attach: add address %s/%u to %s", ip, j->prefix, j->ifname);
  else if ((r = nl_link_up(nl, idx, 0)) < 0)
    sw_fail(&e, -r, "network attach: bring %s up", j->ifname);
  /* Other networks' subnets: fail fast here rather than leave by eth0's default route (slirp4netns
   * or pasta would try them on the host's network). The connected route of eth<N> is more
   * specific, so it still wins for this network. A second attach finds them there (EEXIST). */
  for (unsigned i = 0; r >= 0 && i < j->nblocks; i++) {
    int rr = nl_add_unreachable4(nl, j->block[i], j->block_len[i]);
    if (rr < 0 && rr != -EEXIST) {
      char b[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &j->block[i], b, sizeof b);
      r = sw_fail(&e, -rr, "network attach: add unreachable route %s/%u", b, j->block_len[i]);
    }
  }
  if (r < 0) {
    if (idx > 0) nl_del_link(nl, idx); /* takes the peer with it */
    worker_fail(out, reqid, &e);
  }
  /* 2. In the network's namespace: the peer joins the bridge. */
  if (setns(netns, CLONE_NEWNET) < 0) {
    sw_fail(&e, errno, "network attach: enter the network's namespace");
    worker_fail(out, reqid, &e);
  }
  int nl2 = nl_open();
  if (nl2 < 0) {
    sw_fail(&e, -nl2, "network attach: open rtnetlink socket in the network");
    worker_fail(out, reqid, &e);
  }
  int peer = nl_ifindex(j->peer), br = nl_ifindex(BRIDGE);
  if (peer < 0) r = sw_fail(&e, -peer, "network attach: find %s", j->peer);
  else if (br < 0) r = sw_fail(&e, -br, "network attach: find " BRIDGE);
  else if ((r = nl_link_up(nl2, peer, br)) < 0) sw_fail(&e, -r, "network attach: add %s to " BRIDGE, j->peer);
  if (r < 0) {
    if (peer > 0) nl_del_link(nl2, peer);
    worker_fail(out, reqid, &e);
  }
  sw_buf b = {0};
  buf_begin(&b, FR_OK, reqid);
  buf_put_str(&b, T_IFNAME, j->ifname);
  worker_send(out, &b);
  _exit(0);
}

void network_attach(uint32_t reqid, const uint8_t *body, size_t len, const int *ns, unsigned *ifs) {
  cleanup_free char *net_id = spec_get_str(body, len, T_NET_ID);
  cleanup_free char *ip = spec_get_str(body, len, T_IP);
  uint64_t prefix = 24;
  spec_get_uint(body, len, T_PREFIX, &prefix);
  struct network *n = net_id ? find_net(net_id) : NULL;
  if (!n) {
    reply_error(reqid, EK_NETWORK, "network attach: no such network", ENOENT);
    return;
  }
  if (n->nsfd < 0) {
    reply_error(reqid, EK_NETWORK, "network attach: the network is still being created", EAGAIN);
    return;
  }
  struct attach_job j = {.prefix = (unsigned)prefix};
  if (ns[SW_NS_NET] < 0) {
    reply_error(reqid, EK_CONTAINER_STATE, "network attach: the container's namespaces are gone", ESRCH);
    return;
  }
  if (!ip || inet_pton(AF_INET, ip, &j.addr) != 1 || prefix < 1 || prefix > 30) {
    reply_error(reqid, EK_BAD_REQUEST, "network attach: need an IPv4 address and a prefix length of 1..30", EINVAL);
    return;
  }
  unsigned ifnum = *ifs + 1;
  sw_tlv_iter it;
  sw_tlv t;
  tlv_iter_init(&it, body, len);
  while (tlv_next(&it, &t) > 0) {
    if (t.tag != T_UNREACHABLE) continue;
    if (j.nblocks == MAX_BLOCKS || nl_parse_cidr4((const char *)t.val, t.len, &j.block[j.nblocks], &j.block_len[j.nblocks]) < 0) {
      reply_error(reqid, EK_BAD_REQUEST, "network attach: bad unreachable route (at most 8 IPv4 CIDRs like 10.89.0.0/16)", EINVAL);
      return;
    }
    j.nblocks++;
  }
  if (ifnum > 999) {
    reply_error(reqid, EK_NETWORK, "network attach: too many networks for one container", ENOSPC);
    return;
  }
  snprintf(j.ifname, sizeof j.ifname, "eth%u", ifnum);
  snprintf(j.peer, sizeof j.peer, "sw%08x", ++N.next_peer);
  int r = worker_spawn_in(ns, reqid, EK_NETWORK, attach_worker, &j, n->nsfd, false);
  if (r < 0) reply_error(reqid, EK_RESOURCES, "network attach: fork", -r);
  else *ifs = ifnum;
}

/*
 * rtnetlink requests built by hand into a fixed buffer. Each request asks for an ACK and waits
 * for the NLMSG_ERROR answering its own sequence number; every length is checked before use,
 * so a short or odd reply is -EBADMSG rather than a read past the buffer.
 */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define NL_BUF 1024

struct nl_req {
  union {
    struct nlmsghdr h;
    uint8_t bytes[NL_BUF];
  } u;
  bool overflow;
};

static uint32_t nl_seq;

static void req_init(struct nl_req *r, uint16_t type, uint16_t flags) {
  memset(r, 0, sizeof *r);
  r->u.h.nlmsg_len = NLMSG_LENGTH(0);
  r->u.h.nlmsg_type = type;
  r->u.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
  r->u.h.nlmsg_seq = ++nl_seq;
}

/* Appends raw bytes at the aligned end of the message; returns where they went, or NULL. */
static void *req_append(struct nl_req *r, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(r->u.h.nlmsg_len);
  if (r->overflow || off + len > NL_BUF) {
    r->overflow = true;
    return NULL;
  }
  uint8_t *p = r->u.bytes + off;
  if (data) memcpy(p, data, len);
  else memset(p, 0, len);
  r->u.h.nlmsg_len = (uint32_t)(off + len);
  return p;
}

static struct rtattr *attr_put(struct nl_req *r, unsigned short type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(r->u.h.nlmsg_len);
  if (r->overflow || off + RTA_LENGTH(len) > NL_BUF) {
    r->overflow = true;
    return NULL;
  }
  struct rtattr *a = (struct rtattr *)(r->u.bytes + off);
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  r->u.h.nlmsg_len = (uint32_t)(off + RTA_LENGTH(len));
  return a;
}

static struct rtattr *nest_begin(struct nl_req *r, unsigned short type) { return attr_put(r, type, NULL, 0); }

static void nest_end(struct nl_req *r, struct rtattr *a) {
  if (a) a->rta_len = (unsigned short)(r->u.bytes + r->u.h.nlmsg_len - (uint8_t *)a);
}

static int attr_str(struct nl_req *r, unsigned short type, const char *s) {
  size_t n = strlen(s);
  if (n >= IFNAMSIZ) return -ENAMETOOLONG;
  return attr_put(r, type, s, n + 1) ? 0 : -EMSGSIZE;
}

int nl_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* Sends the request and waits for its ACK: 0 or the kernel's -errno. */
static int req_send(int nl, struct nl_req *r) {
  if (r->overflow) return -EMSGSIZE;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (TEMP_FAILURE_RETRY(sendto(nl, r->u.bytes, r->u.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel)) < 0)
    return -errno;
  union {
    struct nlmsghdr h;
    uint8_t bytes[8192];
  } rep;
  for (;;) {
    ssize_t n = TEMP_FAILURE_RETRY(recv(nl, rep.bytes, sizeof rep.bytes, 0));
    if (n < 0) return -errno;
    if (n == 0) return -ECONNRESET;
    size_t left = (size_t)n;
    for (struct nlmsghdr *h = &rep.h; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != r->u.h.nlmsg_seq) continue; /* not ours (e.g. a stale answer) */
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EBADMSG;
        const struct nlmsgerr *err = NLMSG_DATA(h);
        return err->error <= 0 ? err->error : -EBADMSG;
      }
      if (h->nlmsg_type == NLMSG_DONE) return 0;
    }
    if (left != 0 && left == (size_t)n) return -EBADMSG; /* not even one whole header */
  }
}

static int new_link(struct nl_req *r) {
  req_init(r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  return req_append(r, &ifi, sizeof ifi) ? 0 : -EMSGSIZE;
}

int nl_add_bridge(int nl, const char *name) {
  struct nl_req r;
  int e = new_link(&r);
  if (e < 0 || (e = attr_str(&r, IFLA_IFNAME, name)) < 0) return e;
  struct rtattr *li = nest_begin(&r, IFLA_LINKINFO);
  if ((e = attr_str(&r, IFLA_INFO_KIND, "bridge")) < 0) return e;
  nest_end(&r, li);
  return req_send(nl, &r);
}

int nl_add_veth(int nl, const char *name, const char *peer, int peer_netns_fd) {
  struct nl_req r;
  int e = new_link(&r);
  if (e < 0 || (e = attr_str(&r, IFLA_IFNAME, name)) < 0) return e;
  struct rtattr *li = nest_begin(&r, IFLA_LINKINFO);
  if ((e = attr_str(&r, IFLA_INFO_KIND, "veth")) < 0) return e;
  struct rtattr *data = nest_begin(&r, IFLA_INFO_DATA);
  struct rtattr *pe = nest_begin(&r, VETH_INFO_PEER);
  /* The peer's attributes follow its own ifinfomsg header inside VETH_INFO_PEER. */
  struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC};
  if (!req_append(&r, &pifi, sizeof pifi)) return -EMSGSIZE;
  if ((e = attr_str(&r, IFLA_IFNAME, peer)) < 0) return e;
  if (peer_netns_fd >= 0) {
    uint32_t fd = (uint32_t)peer_netns_fd;
    if (!attr_put(&r, IFLA_NET_NS_FD, &fd, sizeof fd)) return -EMSGSIZE;
  }
  nest_end(&r, pe);
  nest_end(&r, data);
  nest_end(&r, li);
  return req_send(nl, &r);
}

int nl_link_up(int nl, int ifindex, int master_ifindex) {
  if (ifindex <= 0) return -EINVAL;
  struct nl_req r;
  req_init(&r, RTM_NEWLINK, 0);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  if (!req_append(&r, &ifi, sizeof ifi)) return -EMSGSIZE;
  if (master_ifindex > 0) {
    uint32_t m = (uint32_t)master_ifindex;
    if (!attr_put(&r, IFLA_MASTER, &m, sizeof m)) return -EMSGSIZE;
  }
  return req_send(nl, &r);
}

int nl_add_addr4(int nl, int ifindex, struct in_addr addr, unsigned prefix) {
  if (ifindex <= 0 || prefix > 32) return -EINVAL;
  struct nl_req r;
  req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_index = (unsigned)ifindex};
  if (!req_append(&r, &ifa, sizeof ifa)) return -EMSGSIZE;
  if (!attr_put(&r, IFA_LOCAL, &addr, sizeof addr) || !attr_put(&r, IFA_ADDRESS, &addr, sizeof addr)) return -EMSGSIZE;
  if (prefix < 31) {
    struct in_addr bcast = {addr.s_addr | htonl(prefix ? ~0U >> prefix : ~0U)};
    if (!attr_put(&r, IFA_BROADCAST, &bcast, sizeof bcast)) return -EMSGSIZE;
  }
  return req_send(nl, &r);
}

int nl_ifindex(const char *name) {
  unsigned i = if_nametoindex(name);
  return i ? (int)i : -(errno ? errno : ENODEV);
}

int nl_del_link(int nl, int ifindex) {
  if (ifindex <= 0) return -EINVAL;
  struct nl_req r;
  req_init(&r, RTM_DELLINK, 0);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
  if (!req_append(&r, &ifi, sizeof ifi)) return -EMSGSIZE;
  return req_send(nl, &r);
}

int nl_add_unreachable4(int nl, struct in_addr dst, unsigned prefix) {
  if (prefix > 32) return -EINVAL;
  struct nl_req r;
  req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  struct rtmsg rt = {
      .rtm_family = AF_INET,
      .rtm_dst_len = (unsigned char)prefix,
      .rtm_table = RT_TABLE_MAIN,
      .rtm_protocol = RTPROT_STATIC,
      .rtm_scope = RT_SCOPE_UNIVERSE,
      .rtm_type = RTN_UNREACHABLE,
  };
  if (!req_append(&r, &rt, sizeof rt)) return -EMSGSIZE;
  if (!attr_put(&r, RTA_DST, &dst, sizeof dst)) return -EMSGSIZE;
  return req_send(nl, &r);
}

int nl_parse_cidr4(const char *p, size_t len, struct in_addr *a, unsigned *n) {
  char s[32];
  if (len == 0 || len >= sizeof s || memchr(p, 0, len)) return -EINVAL;
  memcpy(s, p, len);
  s[len] = 0;
  char *slash = strchr(s, '/');
  if (!slash) return -EINVAL;
  *slash = 0;
  char *end;
  unsigned long bits = strtoul(slash + 1, &end, 10);
  if (*end || end == slash + 1 || bits > 32 || inet_pton(AF_INET, s, a) != 1) return -EINVAL;
  *n = (unsigned)bits;
  if (bits < 32) a->s_addr &= htonl(bits ? ~0U << (32 - bits) : 0);
  return 0;
}

int netns_new_lo_up(int (*more)(int nl, void *arg, sw_error *e), void *arg, sw_error *e) {
  if (unshare(CLONE_NEWNET) < 0) return sw_fail(e, errno, "unshare network namespace");
  int nl = nl_open();
  if (nl < 0) return sw_fail(e, -nl, "open rtnetlink socket");
  int r, lo = nl_ifindex("lo");
  if (lo < 0) r = sw_fail(e, -lo, "find lo");
  else if ((r = nl_link_up(nl, lo, 0)) < 0) r = sw_fail(e, -r, "bring lo up");
  else if (more) r = more(nl, arg, e);
  close(nl);
  if (r < 0) return r;
  /* /proc/self/ns/net names the namespace just entered (the caller is single-threaded). */
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sw_fail(e, errno, "open /proc/self/ns/net");
  return fd;
}

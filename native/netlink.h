/* A small rtnetlink client: just what user networks need (bridge, veth, address, up, master).
 * Every call acts on the network namespace the socket was opened in; all return 0 or -errno. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* A NETLINK_ROUTE socket in the caller's current network namespace: fd or -errno. */
int nl_open(void);
/* RTM_NEWLINK kind "bridge". */
int nl_add_bridge(int nl, const char *name);
/* RTM_NEWLINK kind "veth": `name` here, `peer` created directly in the netns of peer_netns_fd. */
int nl_add_veth(int nl, const char *name, const char *peer, int peer_netns_fd);
/* Sets IFF_UP and, when master_ifindex > 0, IFLA_MASTER (enslaves to a bridge). */
int nl_link_up(int nl, int ifindex, int master_ifindex);
/* RTM_NEWADDR: IPv4 address/prefix on ifindex (the connected route follows when the link is up). */
int nl_add_addr4(int nl, int ifindex, struct in_addr addr, unsigned prefix);
/* Interface index by name in the caller's network namespace, or -errno (-ENODEV). */
int nl_ifindex(const char *name);
/* RTM_DELLINK (a veth takes its peer with it). */
int nl_del_link(int nl, int ifindex);
/* RTM_NEWROUTE type unreachable for dst/prefix in the main table: connects to it fail at once
 * (EHOSTUNREACH) instead of leaving through the default route. -EEXIST when already there. */
int nl_add_unreachable4(int nl, struct in_addr dst, unsigned prefix);
/* "a.b.c.d/n" (len bytes, no NUL needed) -> address with the host bits cleared, and n: 0 or -EINVAL. */
int nl_parse_cidr4(const char *s, size_t len, struct in_addr *a, unsigned *n);
/* In a forked single-threaded child: unshares a new network namespace, brings its lo up, runs `more`
 * (when not NULL) with an rtnetlink socket of it, and returns an fd of the namespace (close-on-exec),
 * or -errno with e's stage set. The user networks' namespaces and the pool's spares are made so. */
int netns_new_lo_up(int (*more)(int nl, void *arg, sw_error *e), void *arg, sw_error *e);

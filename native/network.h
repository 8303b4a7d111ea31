/* User networks: one network namespace per network with a bridge br0, containers joined by veth. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* NET_CREATE (NET_ID, SUBNET): answers OK or ERROR itself. */
void network_create(uint32_t reqid, const uint8_t *body, size_t len);
/* NET_REMOVE (NET_ID): idempotent. */
void network_remove(uint32_t reqid, const uint8_t *body, size_t len);
/* NET_ATTACH (ID, NET_ID, IP, PREFIX) for a container whose namespaces the keeper holds in ns (SW_NS_*). *ifs counts the
 * container's attachments: the interface is eth<*ifs + 1>, and *ifs grows once the request is
 * valid (a later failure inside the namespaces leaves a gap in the numbering). Answers (through a
 * worker) OK IFNAME or ERROR. */
void network_attach(uint32_t reqid, const uint8_t *body, size_t len, const int *ns, unsigned *ifs);

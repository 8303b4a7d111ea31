/* Port publishing: the keeper listens on the host, init connects inside the container. */
#pragma once
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "init.h"

/* Registers the UDP expiry timer with the loop: 0 or -errno. */
int forward_init(void);
void forward_publish(uint32_t reqid, const char *id, int ctl, const uint8_t *body, size_t len);
void forward_unpublish(uint32_t reqid, const uint8_t *body, size_t len);
/* Host access: the container's 169.254.1.2:PORT reaches the host's 127.0.0.1:PORT (reply once init answered). */
void forward_host_port(uint32_t reqid, const char *id, int ctl, const uint8_t *body, size_t len);
/* init answered a socket request: fd is a connecting socket in the container, or -1 (m->err). */
void forward_socket_reply(const char *id, const struct init_msg *m, int fd);
void forward_container_gone(const char *id);
void forward_shutdown(void);
/* In a forked child that is not the keeper (a container init): frees the forwarder's buffers. */
void forward_child_release(void);

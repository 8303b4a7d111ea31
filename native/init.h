/* slipway init: PID 1 of every container. Sets up the root, waits for START, runs the process,
 * forwards signals, reaps orphans and reports the exit status to the keeper. */
#pragma once
#include <stdint.h>

#include "spec.h"

/* Messages on the keeper <-> init SOCK_SEQPACKET socketpair (one message per packet). */
enum init_msg_kind {
  IM_CREATED = 1,      /* init -> keeper: root ready, blocked until IM_START */
  IM_ERROR = 2,        /* init -> keeper: setup failed (err, stage) */
  IM_START = 3,        /* keeper -> init */
  IM_STARTED = 4,      /* init -> keeper: exec succeeded */
  IM_START_FAILED = 5, /* init -> keeper: exec failed (err, stage); an EXIT follows */
  IM_EXIT = 6,         /* init -> keeper: value = raw wait status of the main process */
  IM_SOCKET_REQ = 7,   /* keeper -> init: value = port, aux = proto (1 tcp, 2 udp, 3 tcp unconnected,
                        * 4 tcp listening on SW_HOST_ALIAS_IP), tag = cookie */
  IM_SOCKET_REPLY = 8, /* init -> keeper: fd in SCM_RIGHTS or err; tag echoes the cookie */
  IM_NET = 9,          /* init -> keeper (isolated network): the tap is made, before the root's setup: an
                        * outbound helper may attach now, beside that setup */
};

/* The address host.slipway.internal names inside a container (host byte order): 169.254.1.2 on the
 * container's lo, where the keeper's host-access listeners are (as Podman's host.containers.internal). */
#define SW_HOST_ALIAS_IP 0xa9fe0102u

struct init_msg {
  uint32_t kind;
  int32_t err;
  int32_t value;
  uint32_t aux;
  uint32_t tag;
  char stage[256];
};

/* Never returns. ctl, out_w, err_w are the init ends of the keeper's socketpair and log pipes. */
void init_main(struct container_spec *s, int ctl, int out_w, int err_w) __attribute__((noreturn));

/* A persistent tap device `name` in the caller's network namespace (best effort). */
void init_make_tap(const char *name);

int init_send(int fd, const struct init_msg *m, int pass_fd);
/* A forked child's answer: `fd` passed when it is >= 0, else e's errno and stage. */
int init_send_result(int sock, int fd, const sw_error *e);
/* Receives one message; *fd_out gets a passed fd or -1. Returns bytes, 0 on EOF, or -errno. */
long init_recv(int fd, struct init_msg *m, int *fd_out);

/*
 * Frames to Node (fd 1). Once the loop runs, writes never block the keeper: what the pipe does not
 * take at once waits in an output queue that drains on EPOLLOUT. Producers that can wait (worker
 * relays) check out_congested() and pause until the queue drains (out_set_drain_hook).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* Switches fd 1 to non-blocking writes through the loop; before it, frames are written blocking. */
int out_init(void);
void send_frame(sw_buf *b);
/* Queues bytes that are already a whole frame (a worker's, relayed verbatim). */
void out_write(const void *p, size_t n);
/* More than OUT_HIGH bytes wait: producers should pause. */
bool out_congested(void);
/* Called once the queue falls below the low-water mark after having been congested. */
void out_set_drain_hook(void (*fn)(void));
/* Blocking flush of what waits (the keeper is exiting). */
void out_flush_sync(void);

void reply_ok(uint32_t reqid);
/* ERROR for reqid: kind (enum sw_err_kind) is what Node branches on, the stage text is for people. */
void reply_error(uint32_t reqid, int kind, const char *stage, int errnum);
/* Builds an ERROR frame into b (workers write it to their own pipe). */
void build_error(sw_buf *b, uint32_t reqid, int kind, const char *stage, int errnum);

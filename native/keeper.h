/* The keeper: one per Node process. Owns the user namespace and the container table; dispatches
 * Node's requests. Everything it uses sits below it (loop, reply, worker, forward, network, userns,
 * exec, files); nothing below includes this file. */
#pragma once

/* At most this many `--watch=` processes (owner.h). */
#define SW_MAX_OWNERS 4

/* `owners`: specs of processes whose exit tears the keeper down like Node's EOF (owner.h). */
int keeper_main(const char *state_root, char **owners, int n_owners) __attribute__((noreturn));

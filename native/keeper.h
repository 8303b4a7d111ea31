/* The keeper: one per Node process. Owns the user namespace and the container table; dispatches
 * Node's requests. Everything it uses sits below it (loop, reply, worker, forward, network, userns,
 * exec, files); nothing below includes this file. */
#pragma once

int keeper_main(const char *state_root) __attribute__((noreturn));

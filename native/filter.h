/* Docker's default seccomp profile, resolved for one capability set and compiled to BPF. */
#pragma once
#include <linux/filter.h>
#include <stdint.h>

#include "util.h"

/*
 * The keeper compiles the program before it forks the container's init or an exec worker, so a
 * profile error fails CREATE/EXEC cleanly and the child only loads it (one prctl). Programs are
 * cached per set of the capabilities the profile looks at. The result stays valid for the
 * keeper's life; children inherit it with their copy of the keeper's memory.
 */
const struct sock_fprog *filter_for_caps(uint64_t caps, sw_error *e);
/* Loads prog into the calling process (needs no_new_privs or CAP_SYS_ADMIN): 0 or -errno. */
int filter_load(const struct sock_fprog *prog, sw_error *e);

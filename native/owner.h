/* The processes a keeper lives no longer than, beside its parent Node: the main process of a test
 * run whose worker started the keeper (vitest's and jest's forked workers outlive a SIGKILLed main
 * process until their tests end). Named on the command line as `--watch=<pid>[:<starttime>]`. */
#pragma once

/* A pidfd for the process `spec` names (`<pid>` or `<pid>:<starttime>`, the starttime being field
 * 22 of /proc/<pid>/stat, which tells a reused pid apart). -ESRCH when that process is already gone,
 * -EINVAL for a malformed spec, another -errno when it cannot be watched. */
int owner_open(const char *spec, int *pid_out);

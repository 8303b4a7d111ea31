/* The attacker of the sandbox tests: each command makes one syscall and prints "ok <result>" or
 * "err <ERRNO>" (exit 0 either way), so a test asserts the kernel's answer, not a tool's wording.
 * Built static on the host and copied into busybox containers; also run on the host to plant and
 * look for keys in the test process's session keyring.
 *   sec-probe unshare-user | personality VALUE | socket FAMILY | session
 *   sec-probe key-add DESC DATA | key-read SERIAL | key-search DESC | key-revoke SERIAL
 *   sec-probe euid | open PATH | open-path PATH (O_PATH) | open-write PATH (O_WRONLY)
 *   sec-probe ptrace PID (PTRACE_SEIZE, detached again when it worked) */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long r) {
  if (r < 0) printf("err %s\n", strerrorname_np(errno));
  else printf("ok %ld\n", r);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  const char *a = argc > 2 ? argv[2] : "";
  if (!strcmp(cmd, "euid")) return report(geteuid());
  if (!strcmp(cmd, "open")) return report(open(a, O_RDONLY | O_CLOEXEC));
  if (!strcmp(cmd, "open-path")) return report(open(a, O_PATH | O_CLOEXEC));
  if (!strcmp(cmd, "open-write")) return report(open(a, O_WRONLY | O_CLOEXEC));
  if (!strcmp(cmd, "ptrace")) {
    long pid = strtol(a, NULL, 0), r = ptrace(PTRACE_SEIZE, pid, 0, 0);
    if (r == 0) ptrace(PTRACE_DETACH, pid, 0, 0);
    return report(r);
  }
  if (!strcmp(cmd, "unshare-user")) return report(unshare(CLONE_NEWUSER));
  if (!strcmp(cmd, "personality")) return report(syscall(SYS_personality, strtoul(a, NULL, 0)));
  if (!strcmp(cmd, "socket")) return report(socket((int)strtol(a, NULL, 0), SOCK_STREAM, 0));
  if (!strcmp(cmd, "session")) return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  if (!strcmp(cmd, "key-add") && argc > 3)
    return report(syscall(SYS_add_key, "user", a, argv[3], strlen(argv[3]), KEY_SPEC_SESSION_KEYRING));
  if (!strcmp(cmd, "key-search"))
    return report(syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", a, 0));
  if (!strcmp(cmd, "key-revoke")) return report(syscall(SYS_keyctl, KEYCTL_REVOKE, strtol(a, NULL, 0)));
  if (!strcmp(cmd, "key-read")) {
    char buf[256];
    long n = syscall(SYS_keyctl, KEYCTL_READ, strtol(a, NULL, 0), buf, sizeof buf - 1);
    if (n < 0) return report(n);
    buf[n < (long)sizeof buf - 1 ? n : (long)sizeof buf - 1] = 0;
    printf("ok %s\n", buf);
    return 0;
  }
  fprintf(stderr, "sec-probe: unknown command %s\n", cmd);
  return 2;
}

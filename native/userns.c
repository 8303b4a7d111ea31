#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "userns.h"

#include "reply.h"
#include "spec.h"

int userns_enter(sw_reader *in) {
  pid_t parent = getppid();
  /* The keeper is single-threaded, so unshare(CLONE_NEWUSER) is allowed (it is EINVAL in a
   * threaded process, which is why Node never does this itself). */
  if (unshare(CLONE_NEWUSER) < 0) {
    reply_error(0, EK_USERNS, "unshare user namespace", errno);
    die_with_error("unshare user namespace");
  }
  sw_buf b = {0};
  buf_begin(&b, FR_NEED_MAP, 0);
  buf_put_u32(&b, T_PID, (uint32_t)getpid());
  send_frame(&b);
  buf_free(&b);

  /* Node writes our uid/gid maps (directly as root, via newuidmap/newgidmap otherwise) and
   * answers MAPPED. Until then our ids are the overflow ids and nothing else may happen. */
  int kind = 0;
  for (;;) {
    sw_frame_view f;
    int r = reader_next(in, &f);
    if (r < 0) continue; /* skipped by its declared length, like any bad frame; wait for MAPPED */
    if (r == 0) {
      long n = reader_fill(in, 0);
      if (n == 0) _exit(0); /* Node went away before mapping us */
      if (n < 0 && n != -EINTR && n != -EAGAIN) die("read: %s", strerror((int)-n));
      continue;
    }
    if (f.type != FR_MAPPED) continue;
    uint64_t v = MAP_SINGLE;
    spec_get_uint(f.body, f.body_len, T_TYPE, &v);
    kind = (int)v;
    break;
  }
  /* Become root of the namespace. Groups first: after setresuid we could still do it, but the
   * host's supplementary groups (unmapped, shown as nobody) must go while we may. With a
   * single-id mapping setgroups is denied, which is fine. */
  if (setgroups(0, NULL) < 0 && errno != EPERM) die_with_error("setgroups");
  if (setresgid(0, 0, 0) < 0) die_with_error("setresgid 0 (is the gid map written?)");
  if (setresuid(0, 0, 0) < 0) die_with_error("setresuid 0 (is the uid map written?)");
  /* The death signal is cleared by credential changes, so it is set only now; then re-check
   * that Node did not die in between (we would have been reparented already). */
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0) die_with_error("PR_SET_PDEATHSIG");
  if (getppid() != parent) _exit(0);
  return kind;
}

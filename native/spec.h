/* Typed container and process specs, parsed once from TLVs; mechanics never see raw frames. */
#pragma once
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

enum { MOUNT_BIND = 1, MOUNT_TMPFS = 2 };
enum { NET_ISOLATED = 0, NET_NONE = 1, NET_HOST = 2 };
enum { SW_SECCOMP_UNCONFINED = 0, SW_SECCOMP_DEFAULT = 1 };

struct sock_fprog;
#define SW_MAX_UNREACHABLE 8

struct mount_spec {
  int type;
  char *src, *dst;
  char *opts;          /* tmpfs: the data words only (size=, mode=, uid=…), flag words moved to flags */
  unsigned long flags; /* tmpfs: MS_* from the option words (nosuid,nodev unless suid/dev) */
  bool ro;
};

struct rlimit_spec {
  int resource;
  uint64_t soft, hard;
};

struct proc_spec {
  char **argv; /* NULL-terminated */
  size_t argc;
  char **env; /* NULL-terminated */
  size_t envc;
  char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  uint64_t caps;
  bool no_new_privs;
  int seccomp; /* SW_SECCOMP_*: from CREATE; an exec always gets its container's */
  /* Compiled by the keeper before it forks (filter.h), not owned; NULL when unconfined. */
  const struct sock_fprog *filter;
  struct rlimit_spec *rlimits;
  size_t nrlimits;
};

struct container_spec {
  char *id, *state_dir;
  char **lowers; /* top first, like overlay's lowerdir= */
  size_t nlowers;
  char *upper, *work, *rootfs;
  char *hostname;
  struct mount_spec *mounts;
  size_t nmounts;
  uint64_t shm_size;
  int net;
  char *log_path;
  char *tap; /* T_TAP or NULL */
  /* T_UNREACHABLE (isolated net): subnets given an unreachable route before the process starts. */
  struct in_addr unreach[SW_MAX_UNREACHABLE];
  unsigned unreach_len[SW_MAX_UNREACHABLE], nunreach;
  uint64_t log_max;
  bool identity_mapped; /* decided by the keeper, not by the frame */
  int fuse_fd, fuse_go;  /* rootfs_prepare(): /dev/fuse and the go pipe of a waiting fuse-overlayfs, or -1 */
  pid_t fuse_pid;        /* that fuse-overlayfs (a child of the keeper), or 0 */
  int pool_netns;        /* in init: a prepared network namespace's fd (netpool.h, keeper.c none_pool) to join first, or 0 (none) */
  struct proc_spec proc;
};

/* Docker's default capability set. */
#define SW_DEFAULT_CAPS                                                                            \
  ((1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) |           \
   (1ULL << 7) | (1ULL << 8) | (1ULL << 10) | (1ULL << 13) | (1ULL << 18) | (1ULL << 27) |       \
   (1ULL << 29) | (1ULL << 31))

int spec_parse_container(const uint8_t *body, size_t len, struct container_spec *s, sw_error *e);
/* Parses the process fields (ARG, ENV, CWD, UID, GID, GROUP, CAPS, NO_NEW_PRIVS, RLIMIT). */
int spec_parse_proc(const uint8_t *body, size_t len, struct proc_spec *p, sw_error *e);
void spec_free_container(struct container_spec *s);
void spec_free_proc(struct proc_spec *p);
/* First string value of tag, or NULL. */
char *spec_get_str(const uint8_t *body, size_t len, uint16_t tag);
bool spec_get_uint(const uint8_t *body, size_t len, uint16_t tag, uint64_t *out);

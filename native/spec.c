#include "spec.h"

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "netlink.h"
#include "protocol.h"

static void push_str(char ***arr, size_t *n, char *s) {
  *arr = xrealloc(*arr, (*n + 2) * sizeof(char *));
  (*arr)[(*n)++] = s;
  (*arr)[*n] = NULL;
}

static int parse_proc_tag(const sw_tlv *t, struct proc_spec *p, sw_error *e, bool *handled) {
  *handled = true;
  char *s;
  switch (t->tag) {
  case T_ARG:
  case T_ENV:
    if (!(s = tlv_strdup(t))) return sw_fail(e, EINVAL, "parse %s: embedded NUL", t->tag == T_ARG ? "argv" : "env");
    if (t->tag == T_ARG)
      push_str(&p->argv, &p->argc, s);
    else
      push_str(&p->env, &p->envc, s);
    return 0;
  case T_CWD:
    free(p->cwd);
    if (!(p->cwd = tlv_strdup(t))) return sw_fail(e, EINVAL, "parse cwd");
    return 0;
  case T_UID:
    p->uid = (uid_t)tlv_uint(t);
    return 0;
  case T_GID:
    p->gid = (gid_t)tlv_uint(t);
    return 0;
  case T_GROUP:
    p->groups = xrealloc(p->groups, (p->ngroups + 1) * sizeof(gid_t));
    p->groups[p->ngroups++] = (gid_t)tlv_uint(t);
    return 0;
  case T_CAPS:
    p->caps = tlv_uint(t);
    return 0;
  case T_NO_NEW_PRIVS:
    p->no_new_privs = tlv_uint(t) != 0;
    return 0;
  case T_RLIMIT: {
    struct rlimit_spec rl = {-1, 0, 0};
    sw_tlv_iter it;
    sw_tlv c;
    int r;
    tlv_iter_init(&it, t->val, t->len);
    while ((r = tlv_next(&it, &c)) > 0) {
      if (c.tag == T_RESOURCE) rl.resource = (int)tlv_uint(&c);
      else if (c.tag == T_SOFT) rl.soft = tlv_uint(&c);
      else if (c.tag == T_HARD) rl.hard = tlv_uint(&c);
    }
    if (r < 0 || rl.resource < 0) return sw_fail(e, EINVAL, "parse rlimit");
    p->rlimits = xrealloc(p->rlimits, (p->nrlimits + 1) * sizeof rl);
    p->rlimits[p->nrlimits++] = rl;
    return 0;
  }
  default:
    *handled = false;
    return 0;
  }
}

static void proc_defaults(struct proc_spec *p) {
  memset(p, 0, sizeof *p);
  p->caps = SW_DEFAULT_CAPS;
  p->no_new_privs = true;
  p->seccomp = SW_SECCOMP_DEFAULT;
  p->argv = xcalloc(1, sizeof(char *));
  p->env = xcalloc(1, sizeof(char *));
}

static int proc_check(struct proc_spec *p, sw_error *e) {
  if (p->argc == 0) return sw_fail(e, EINVAL, "parse spec: empty argv");
  if (!p->cwd) p->cwd = xstrdup("/");
  if (p->cwd[0] != '/') return sw_fail(e, EINVAL, "parse spec: cwd must be absolute");
  return 0;
}

int spec_parse_proc(const uint8_t *body, size_t len, struct proc_spec *p, sw_error *e) {
  proc_defaults(p);
  sw_tlv_iter it;
  sw_tlv t;
  int r;
  bool handled;
  tlv_iter_init(&it, body, len);
  while ((r = tlv_next(&it, &t)) > 0)
    if ((r = parse_proc_tag(&t, p, e, &handled)) < 0) return r;
  if (r < 0) return sw_fail(e, EBADMSG, "parse spec: malformed TLV");
  return proc_check(p, e);
}

/* A tmpfs's mount(8) flag words: the one who sets or clears each MS_* bit (Docker's tmpfs flags, less
 * propagation, which Node refuses: a container's mounts are private). Anything else without '=' is refused
 * here too, so an option the kernel would take as tmpfs data never slips through as one. */
static const struct { const char *word; unsigned long flag; bool clear; } tmpfs_flags[] = {
  {"ro", MS_RDONLY, false},     {"rw", MS_RDONLY, true},         {"noexec", MS_NOEXEC, false},
  {"exec", MS_NOEXEC, true},    {"nosuid", MS_NOSUID, false},     {"suid", MS_NOSUID, true},
  {"nodev", MS_NODEV, false},   {"dev", MS_NODEV, true},          {"sync", MS_SYNCHRONOUS, false},
  {"async", MS_SYNCHRONOUS, true}, {"dirsync", MS_DIRSYNC, false}, {"noatime", MS_NOATIME, false},
  {"atime", MS_NOATIME, true},  {"nodiratime", MS_NODIRATIME, false}, {"diratime", MS_NODIRATIME, true},
  {"relatime", MS_RELATIME, false}, {"norelatime", MS_RELATIME, true},
  {"strictatime", MS_STRICTATIME, false}, {"nostrictatime", MS_STRICTATIME, true},
};

/* Splits a tmpfs's comma-separated options into MS_* flags (m->flags) and the kernel's data words (m->opts). */
static int split_tmpfs_options(struct mount_spec *m, sw_error *e) {
  m->flags = MS_NOSUID | MS_NODEV;
  if (!m->opts) return 0;
  size_t n = strlen(m->opts);
  char *data = xmalloc(n + 1), *out = data;
  cleanup_free char *words = xstrdup(m->opts);
  char *save = NULL;
  for (char *w = strtok_r(words, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    if (strchr(w, '=')) {
      out += sprintf(out, "%s%s", out == data ? "" : ",", w);
      continue;
    }
    size_t i = 0;
    while (i < sizeof tmpfs_flags / sizeof *tmpfs_flags && strcmp(tmpfs_flags[i].word, w)) i++;
    if (i == sizeof tmpfs_flags / sizeof *tmpfs_flags) {
      free(data);
      return sw_fail(e, EINVAL, "parse mount %s: unknown tmpfs option %.64s", m->dst, w);
    }
    if (tmpfs_flags[i].clear) m->flags &= ~tmpfs_flags[i].flag;
    else m->flags |= tmpfs_flags[i].flag;
  }
  *out = 0;
  free(m->opts);
  m->opts = data;
  return 0;
}

static int parse_mount(const sw_tlv *t, struct container_spec *s, sw_error *e) {
  struct mount_spec m = {0};
  sw_tlv_iter it;
  sw_tlv c;
  int r;
  tlv_iter_init(&it, t->val, t->len);
  while ((r = tlv_next(&it, &c)) > 0) {
    if (c.tag == T_MOUNT_TYPE) m.type = (int)tlv_uint(&c);
    /* A repeated field replaces the earlier one (found by the fuzzer: it leaked). */
    else if (c.tag == T_SRC) free(m.src), m.src = tlv_strdup(&c);
    else if (c.tag == T_DST) free(m.dst), m.dst = tlv_strdup(&c);
    else if (c.tag == T_OPTIONS) free(m.opts), m.opts = tlv_strdup(&c);
    else if (c.tag == T_READONLY) m.ro = tlv_uint(&c) != 0;
  }
  s->mounts = xrealloc(s->mounts, (s->nmounts + 1) * sizeof m);
  s->mounts[s->nmounts++] = m;
  if (r < 0) return sw_fail(e, EBADMSG, "parse mount");
  if (!m.dst || m.dst[0] != '/') return sw_fail(e, EINVAL, "parse mount: destination must be absolute");
  if (strstr(m.dst, "/../") || !strcmp(m.dst + strlen(m.dst) - (strlen(m.dst) >= 3 ? 3 : 0), "/.."))
    return sw_fail(e, EINVAL, "parse mount %s: '..' is not allowed", m.dst);
  if (m.type == MOUNT_BIND && (!m.src || m.src[0] != '/')) return sw_fail(e, EINVAL, "parse mount %s: bind source must be absolute", m.dst);
  if (m.type != MOUNT_BIND && m.type != MOUNT_TMPFS) return sw_fail(e, EINVAL, "parse mount %s: unknown type %d", m.dst, m.type);
  if (m.type == MOUNT_TMPFS) return split_tmpfs_options(&s->mounts[s->nmounts - 1], e);
  return 0;
}

int spec_parse_container(const uint8_t *body, size_t len, struct container_spec *s, sw_error *e) {
  memset(s, 0, sizeof *s);
  s->fuse_fd = s->fuse_go = -1;
  proc_defaults(&s->proc);
  s->shm_size = 64ULL << 20;
  s->log_max = 16ULL << 20;
  s->lowers = xcalloc(1, sizeof(char *));
  sw_tlv_iter it;
  sw_tlv t;
  int r;
  bool handled;
  tlv_iter_init(&it, body, len);
  while ((r = tlv_next(&it, &t)) > 0) {
    if ((r = parse_proc_tag(&t, &s->proc, e, &handled)) < 0) return r;
    if (handled) continue;
    char **dst = NULL;
    switch (t.tag) {
    case T_ID: dst = &s->id; break;
    case T_STATE_DIR: dst = &s->state_dir; break;
    case T_UPPER: dst = &s->upper; break;
    case T_WORK: dst = &s->work; break;
    case T_ROOTFS: dst = &s->rootfs; break;
    case T_HOSTNAME: dst = &s->hostname; break;
    case T_LOG_PATH: dst = &s->log_path; break;
    case T_TAP: dst = &s->tap; break;
    case T_LOWER: {
      char *l = tlv_strdup(&t);
      if (!l) return sw_fail(e, EINVAL, "parse lowerdir");
      push_str(&s->lowers, &s->nlowers, l);
      continue;
    }
    case T_MOUNT:
      if ((r = parse_mount(&t, s, e)) < 0) return r;
      continue;
    case T_UNREACHABLE:
      if (s->nunreach == SW_MAX_UNREACHABLE ||
          nl_parse_cidr4((const char *)t.val, t.len, &s->unreach[s->nunreach], &s->unreach_len[s->nunreach]) < 0)
        return sw_fail(e, EINVAL, "parse spec: bad unreachable route (at most %d IPv4 CIDRs like 10.89.0.0/16)", SW_MAX_UNREACHABLE);
      s->nunreach++;
      continue;
    case T_SHM_SIZE: s->shm_size = tlv_uint(&t); continue;
    case T_NET: s->net = (int)tlv_uint(&t); continue;
    case T_LOG_MAX: s->log_max = tlv_uint(&t); continue;
    case T_SECCOMP:
      /* Only CREATE carries it: an exec cannot ask to leave its container's filter. */
      if (tlv_uint(&t) > SW_SECCOMP_DEFAULT) return sw_fail(e, EINVAL, "parse spec: unknown seccomp mode %llu", (unsigned long long)tlv_uint(&t));
      s->proc.seccomp = (int)tlv_uint(&t);
      continue;
    default: continue; /* unknown tags are ignored: newer Node, older helper fields */
    }
    free(*dst);
    if (!(*dst = tlv_strdup(&t))) return sw_fail(e, EINVAL, "parse spec: embedded NUL (tag %u)", t.tag);
  }
  if (r < 0) return sw_fail(e, EBADMSG, "parse spec: malformed TLV");
  if (!s->id || !*s->id || strchr(s->id, '/')) return sw_fail(e, EINVAL, "parse spec: bad container id");
  if (!s->state_dir || s->state_dir[0] != '/') return sw_fail(e, EINVAL, "parse spec: state dir must be absolute");
  if (!s->rootfs && (s->nlowers == 0 || !s->upper || !s->work))
    return sw_fail(e, EINVAL, "parse spec: need a rootfs or lower, upper and work dirs");
  return proc_check(&s->proc, e);
}

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

void spec_free_proc(struct proc_spec *p) {
  free_strv(p->argv);
  free_strv(p->env);
  free(p->cwd);
  free(p->groups);
  free(p->rlimits);
  memset(p, 0, sizeof *p);
}

void spec_free_container(struct container_spec *s) {
  free(s->id);
  free(s->state_dir);
  free_strv(s->lowers);
  free(s->upper);
  free(s->work);
  free(s->rootfs);
  free(s->hostname);
  for (size_t i = 0; i < s->nmounts; i++) {
    free(s->mounts[i].src);
    free(s->mounts[i].dst);
    free(s->mounts[i].opts);
  }
  free(s->mounts);
  free(s->log_path);
  free(s->tap);
  spec_free_proc(&s->proc);
  memset(s, 0, sizeof *s);
}

char *spec_get_str(const uint8_t *body, size_t len, uint16_t tag) {
  sw_tlv_iter it;
  sw_tlv t;
  tlv_iter_init(&it, body, len);
  while (tlv_next(&it, &t) > 0)
    if (t.tag == tag) return tlv_strdup(&t);
  return NULL;
}

bool spec_get_uint(const uint8_t *body, size_t len, uint16_t tag, uint64_t *out) {
  sw_tlv_iter it;
  sw_tlv t;
  tlv_iter_init(&it, body, len);
  while (tlv_next(&it, &t) > 0)
    if (t.tag == tag) {
      *out = tlv_uint(&t);
      return true;
    }
  return false;
}

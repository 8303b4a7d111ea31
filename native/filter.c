/*
 * Docker's default seccomp profile (seccomp-profile.h, generated from the vendored JSON), resolved
 * the way moby resolves it for one container — rules gated by capabilities the container holds, by
 * the machine's architecture or by its kernel version are kept or dropped — then compiled with
 * libseccomp into one BPF program covering the native architecture and its compat ones (x86 and
 * x32 on x86_64), so a 32-bit syscall cannot go around the filter.
 */
#include "filter.h"
#include "protocol.h"

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

struct sw_seccomp_arg {
  unsigned index;
  enum scmp_compare op;
  uint64_t a, b;
};

struct sw_seccomp_rule {
  const char *const *names;
  int errno_ret; /* -1: allow */
  unsigned nargs;
  struct sw_seccomp_arg args[6];
  uint64_t caps_all, caps_none;
  const char *arches, *not_arches; /* " amd64 x32 " or NULL */
  unsigned min_kernel;
};

#define SW_CAP(c) (1ULL << (c))
#define SW_KERNEL(major, minor) ((unsigned)(major) << 16 | (unsigned)(minor))
#include "seccomp-profile.h"

/* moby matches `arches` against Go's GOARCH. */
#if defined(__x86_64__)
#define SW_GOARCH "amd64"
#elif defined(__aarch64__)
#define SW_GOARCH "arm64"
#elif defined(__arm__)
#define SW_GOARCH "arm"
#elif defined(__i386__)
#define SW_GOARCH "386"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SW_GOARCH "ppc64le"
#elif defined(__s390x__)
#define SW_GOARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define SW_GOARCH "riscv64"
#elif defined(__loongarch64)
#define SW_GOARCH "loong64"
#else
#define SW_GOARCH "unknown"
#endif

/*
 * Syscalls the profile allows that are newer than the libseccomp we may be linked with (Debian 12's
 * 2.5.4 knows none of these): their numbers on the native architecture, from the kernel's unified
 * table (asm-generic/unistd.h; x86_64 uses the same numbers from 424 on). Without this they would
 * fall to the default EPERM although Docker allows them. Only for the native architecture: their
 * compat numbers are not needed by any common 32-bit program.
 */
static int newer_syscall(const char *name) {
#if defined(__x86_64__) || defined(__aarch64__) || (defined(__riscv) && __riscv_xlen == 64)
  static const struct {
    const char *name;
    int nr;
  } t[] = {
      {"statmount", 457},  {"listmount", 458},   {"lsm_get_self_attr", 459}, {"lsm_set_self_attr", 460},
      {"lsm_list_modules", 461}, {"mseal", 462}, {"setxattrat", 463},        {"getxattrat", 464},
      {"listxattrat", 465}, {"removexattrat", 466},
#ifdef __x86_64__
      {"uretprobe", 335},
#endif
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (!strcmp(t[i].name, name)) return t[i].nr;
#else
  (void)name;
#endif
  return __NR_SCMP_ERROR;
}

static unsigned kernel_version(void) {
  struct utsname u;
  unsigned major = 0, minor = 0;
  if (uname(&u) == 0) sscanf(u.release, "%u.%u", &major, &minor);
  return SW_KERNEL(major, minor);
}

static bool in_list(const char *list, const char *word) {
  char w[32];
  snprintf(w, sizeof w, " %s ", word);
  return strstr(list, w) != NULL;
}

/* moby's rules: every included cap present, no excluded cap present, arch and kernel match. */
static bool rule_applies(const struct sw_seccomp_rule *r, uint64_t caps, unsigned kernel) {
  if ((r->caps_all & caps) != r->caps_all) return false;
  if (r->caps_none & caps) return false;
  if (r->arches && !in_list(r->arches, SW_GOARCH)) return false;
  if (r->not_arches && in_list(r->not_arches, SW_GOARCH)) return false;
  if (r->min_kernel && kernel < r->min_kernel) return false;
  return true;
}

/* Adds r's syscalls to ctx (native: also the numbers libseccomp does not know). */
static int add_rule(scmp_filter_ctx ctx, bool native, const struct sw_seccomp_rule *r, sw_error *e) {
  uint32_t action = r->errno_ret < 0 ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO((uint32_t)r->errno_ret);
  struct scmp_arg_cmp cmp[6];
  for (unsigned i = 0; i < r->nargs; i++)
    cmp[i] = (struct scmp_arg_cmp){.arg = r->args[i].index, .op = r->args[i].op, .datum_a = r->args[i].a, .datum_b = r->args[i].b};
  for (const char *const *n = r->names; *n; n++) {
    int nr = seccomp_syscall_resolve_name(*n);
    if (nr == __NR_SCMP_ERROR && native) nr = newer_syscall(*n);
    if (nr == __NR_SCMP_ERROR) continue; /* unknown here: as runc, it stays denied */
    int rc = seccomp_rule_add_array(ctx, action, nr, r->nargs, cmp);
    /* A negative number is a syscall the native architecture lacks (_llseek, socketcall…):
     * libseccomp refuses it where it does not exist, which is no error. */
    if (rc < 0 && nr >= 0) return sw_fail_k(e, EK_SECCOMP, -rc, "seccomp: add rule for %s", *n);
  }
  return 0;
}

static int build(scmp_filter_ctx ctx, bool native, uint64_t caps, sw_error *e) {
  unsigned kernel = kernel_version();
  for (size_t i = 0; i < sizeof sw_seccomp_rules / sizeof *sw_seccomp_rules; i++) {
    if (!rule_applies(&sw_seccomp_rules[i], caps, kernel)) continue;
    int r = add_rule(ctx, native, &sw_seccomp_rules[i], e);
    if (r < 0) return r;
  }
  return 0;
}

/* The compat architectures the profile lists for the native one (archMap). */
static const char *const *sub_arches(void) {
  uint32_t native = seccomp_arch_native();
  for (size_t i = 0; i < sizeof sw_seccomp_archmap / sizeof *sw_seccomp_archmap; i++)
    if (seccomp_arch_resolve_name(sw_seccomp_archmap[i][0]) == native) return &sw_seccomp_archmap[i][1];
  return NULL;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *out, sw_error *e) {
  cleanup_fd int fd = memfd_create("slipway-seccomp", MFD_CLOEXEC);
  if (fd < 0) return sw_fail_k(e, EK_SECCOMP, errno, "seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) return sw_fail_k(e, EK_SECCOMP, -rc, "seccomp: export the filter");
  struct stat st;
  if (fstat(fd, &st) < 0) return sw_fail_k(e, EK_SECCOMP, errno, "seccomp: fstat");
  size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
  /* The kernel takes at most BPF_MAXINSNS instructions per filter: say so here, not at load. */
  if (n == 0 || n > BPF_MAXINSNS) return sw_fail_k(e, EK_SECCOMP, E2BIG, "seccomp: the filter has %zu instructions (at most %d)", n, BPF_MAXINSNS);
  struct sock_filter *f = xmalloc(n * sizeof *f);
  if (pread(fd, f, n * sizeof *f, 0) != (ssize_t)(n * sizeof *f)) {
    free(f);
    return sw_fail_k(e, EK_SECCOMP, EIO, "seccomp: read the exported filter");
  }
  *out = (struct sock_fprog){.len = (unsigned short)n, .filter = f};
  return 0;
}

/*
 * A binary tree of syscall numbers instead of libseccomp's default linear list (~1000 instructions for
 * Docker's profile). It matters twice: every syscall whose rule looks at arguments (clone, socket,
 * personality…) runs the program, and each load makes the kernel emulate it once per syscall number
 * to find those it may allow without running it (the seccomp action cache). Both are per container:
 * init loads it at START, and the process again. Merged contexts must carry the same attributes.
 */
static int optimize(scmp_filter_ctx ctx, sw_error *e) {
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  return rc < 0 ? sw_fail_k(e, EK_SECCOMP, -rc, "seccomp: ask for a binary tree filter") : 0;
}

static int compile(uint64_t caps, struct sock_fprog *out, sw_error *e) {
  uint32_t deflt = SCMP_ACT_ERRNO(SW_SECCOMP_DEFAULT_ERRNO);
  scmp_filter_ctx ctx = seccomp_init(deflt), sub = NULL;
  int r = 0;
  if (!ctx) return sw_fail_k(e, EK_SECCOMP, ENOMEM, "seccomp: init");
  if ((r = optimize(ctx, e)) < 0) goto out;
  if ((r = build(ctx, true, caps, e)) < 0) goto out;
  /*
   * Compat architectures get their own context (merged below): in a context that also holds them,
   * libseccomp rejects a raw native number it cannot translate, i.e. every newer_syscall().
   */
  const char *const *subs = sub_arches();
  if (subs && subs[0]) {
    if (!(sub = seccomp_init(deflt))) {
      r = sw_fail_k(e, EK_SECCOMP, ENOMEM, "seccomp: init");
      goto out;
    }
    if ((r = optimize(sub, e)) < 0) goto out;
    int rc = seccomp_arch_remove(sub, SCMP_ARCH_NATIVE);
    for (const char *const *a = subs; rc == 0 && *a; a++) {
      uint32_t arch = seccomp_arch_resolve_name(*a);
      if (arch) rc = seccomp_arch_add(sub, arch); /* 0: unknown to this libseccomp, skipped */
    }
    if (rc < 0) {
      r = sw_fail_k(e, EK_SECCOMP, -rc, "seccomp: add compat architectures");
      goto out;
    }
    if ((r = build(sub, false, caps, e)) < 0) goto out;
    if ((rc = seccomp_merge(ctx, sub)) < 0) {
      r = sw_fail_k(e, EK_SECCOMP, -rc, "seccomp: merge architectures");
      goto out;
    }
    sub = NULL; /* merged into ctx */
  }
  r = export_bpf(ctx, out, e);
out:
  if (sub) seccomp_release(sub);
  seccomp_release(ctx);
  return r;
}

/* The capabilities any rule looks at: programs are cached per set of these. */
static uint64_t relevant_caps(void) {
  uint64_t m = 0;
  for (size_t i = 0; i < sizeof sw_seccomp_rules / sizeof *sw_seccomp_rules; i++)
    m |= sw_seccomp_rules[i].caps_all | sw_seccomp_rules[i].caps_none;
  return m;
}

const struct sock_fprog *filter_for_caps(uint64_t caps, sw_error *e) {
  /* A handful of capability sets per test process; a full cache evicts round-robin (a program is
   * only used between this call and the fork that follows it). */
  enum { SLOTS = 16 };
  static struct {
    bool used;
    uint64_t key;
    struct sock_fprog prog;
  } cache[SLOTS];
  static unsigned next;
  uint64_t key = caps & relevant_caps();
  for (int i = 0; i < SLOTS; i++)
    if (cache[i].used && cache[i].key == key) return &cache[i].prog;
  struct sock_fprog prog;
  if (compile(key, &prog, e) < 0) return NULL;
  unsigned i = next++ % SLOTS;
  if (cache[i].used) free(cache[i].prog.filter);
  cache[i].used = true;
  cache[i].key = key;
  cache[i].prog = prog;
  return &cache[i].prog;
}

int filter_load(const struct sock_fprog *prog, sw_error *e) {
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
    return sw_fail_k(e, EK_SECCOMP, errno, "seccomp: load the default profile");
  return 0;
}

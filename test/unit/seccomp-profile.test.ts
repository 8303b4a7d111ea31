import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs build script without types
import { generate } from '../../scripts/gen-seccomp-profile.mjs';

const root = new URL('../../', import.meta.url);
const profile = (): Record<string, unknown> & { syscalls: Record<string, unknown>[] } =>
  JSON.parse(readFileSync(new URL('native/docker-seccomp-default.json', root), 'utf8'));

describe('seccomp profile generator', () => {
  it('the committed native/seccomp-profile.h matches the vendored profile', () => {
    expect(readFileSync(new URL('native/seccomp-profile.h', root), 'utf8')).toBe(generate(profile()));
  });
  it('keeps every argument, capability, arch and kernel condition of the profile', () => {
    const h = generate(profile()) as string;
    // clone: namespace flags refused (mask 0x7E020000) unless CAP_SYS_ADMIN; s390 has its own ordering.
    expect(h).toContain('{0, SCMP_CMP_MASKED_EQ, 2114060288ULL, 0ULL}}');
    expect(h).toMatch(/SCMP_CMP_MASKED_EQ, 2114060288ULL, 0ULL\}\},\n\s+0, SW_CAP\(CAP_SYS_ADMIN\),\n\s+NULL, " s390 s390x ", 0\}/);
    // socket: AF_VSOCK (40) and AF_ALG (38) stay denied.
    expect(h).toContain('{0, SCMP_CMP_LT, 38ULL, 0ULL}');
    expect(h).toContain('{0, SCMP_CMP_EQ, 39ULL, 0ULL}');
    expect(h).toContain('{0, SCMP_CMP_GT, 40ULL, 0ULL}');
    // clone3 answers ENOSYS (38) without CAP_SYS_ADMIN so libcs fall back to clone.
    expect(h).toMatch(/sw_seccomp_names_\d+, 38, 0, \{\},\n\s+0, SW_CAP\(CAP_SYS_ADMIN\)/);
    expect(h).toContain('SW_KERNEL(4, 8)');
    expect(h).toContain('#define SW_SECCOMP_DEFAULT_ERRNO 1');
  });
  it('refuses what it does not understand instead of dropping a condition', () => {
    const withKey = (patch: Record<string, unknown>) => { const p = profile(); p.syscalls[0] = { ...p.syscalls[0], ...patch }; return p; };
    expect(() => generate(withKey({ action: 'SCMP_ACT_LOG' }))).toThrow(/action SCMP_ACT_LOG is not supported/);
    expect(() => generate(withKey({ includes: { minKernel: '5.1', caps: ['CAP_SYS_ADMIN'], osVersion: 1 } }))).toThrow(/unknown includes.osVersion/);
    expect(() => generate(withKey({ excludes: { minKernel: '5.1' } }))).toThrow(/unknown excludes.minKernel/);
    expect(() => generate(withKey({ args: [{ index: 0, op: 'SCMP_CMP_FOO', value: 1 }] }))).toThrow(/unknown op/);
    expect(() => generate({ ...profile(), defaultAction: 'SCMP_ACT_ALLOW' })).toThrow(/defaultAction/);
  });
});

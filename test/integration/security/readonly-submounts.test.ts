/**
 * Hole (root and rootless): a read-only mount was made read-only at its top only. In host network mode the container's
 * /sys is the host's, bound recursively (sysfs cannot be mounted outside the owned network namespace), so the host's
 * /sys/fs/cgroup/<controller> and /sys/kernel/tracing stayed writable beneath a read-only /sys: a root container
 * (identity-mapped) wrote the host's cgroup v1 files (notify_on_release of the root memory cgroup, limits, tasks) and
 * tracefs; rootless, whatever the user owns there (a delegated cgroup). A read-only bind of a host dir with a mount
 * below it had the same gap. Every mount at or below a read-only one is now read-only too (mount_setattr, recursive).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { fixtureRef, helperBuilt, isRoot, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';

/** The mounts at or below `top` in the container, with their per-mount options (mountinfo fields 5 and 6). */
function mountsBelow(mountinfo: string, top: string): { at: string; opts: string[] }[] {
  return mountinfo.split('\n').filter(Boolean).map((l) => l.split(' ')).map((f) => ({ at: f[4]!, opts: f[5]!.split(',') }))
    .filter((m) => m.at === top || m.at.startsWith(`${top}/`));
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) {
    try { execFileSync('umount', [join(d, 'sub')]); } catch { /* not mounted */ }
    rmSync(d, { recursive: true, force: true });
  }
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: mounts below a read-only mount', () => {
  it("host network mode: every mount under the host's /sys is read-only, so the host's cgroup files and tracefs cannot be written", async () => {
    await using c = await new Container(fixtureRef('busybox')).withNetworkMode('host').withCommand(['sleep', '1000']).start();
    const info = (await c.exec(['cat', '/proc/self/mountinfo'])).stdout;
    const sys = mountsBelow(info, '/sys');
    expect(sys.length).toBeGreaterThan(1); // the host's /sys has mounts below it here (cgroups at least)
    expect(sys.filter((m) => !m.opts.includes('ro')).map((m) => m.at)).toEqual([]);
    // The attacker's write: the old code let a root container set the host's root memory cgroup's flag.
    const ctrl = (await c.exec(['sh', '-c', 'for f in /sys/fs/cgroup/*/notify_on_release; do echo "$f"; break; done'])).stdout.trim();
    if (ctrl.endsWith('notify_on_release')) {
      const w = await c.exec(['sh', '-c', `cat ${ctrl} > /tmp/v && cat /tmp/v > ${ctrl}`]);
      expect(w.exitCode).not.toBe(0);
      expect(w.stderr).toMatch(/Read-only file system|Permission denied/);
    }
  });

  testUnless(isRoot(), 'mounting a tmpfs below a host dir needs root')('a read-only bind of a host dir leaves no writable mount below it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'slipway-ro-sub-'));
    dirs.push(d);
    mkdirSync(join(d, 'sub'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(d, 'sub')]);
    await using c = await new Container(fixtureRef('busybox')).withBind(d, '/data', { readonly: true }).withCommand(['sleep', '1000']).start();
    const w = await c.exec(['sh', '-c', 'echo x > /data/sub/planted']);
    expect(w.exitCode).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only file system/);
    expect(mountsBelow((await c.exec(['cat', '/proc/self/mountinfo'])).stdout, '/data').map((m) => m.opts.includes('ro'))).toEqual([true, true]);
  });
});

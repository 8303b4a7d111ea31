import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import {
  addProcess, createCgroup, detectCgroups, sharesToWeight, validateLimits,
} from '../../../src/runtime/cgroups/index.js';

const isRoot = process.getuid?.() === 0;
/** As root the delegated subtree is chowned to uid 1000; otherwise the files are ours and the rest is made read-only. */
const UID = isRoot ? 1000 : process.getuid!();
const USER_SVC = 'user.slice/user-1000.slice/user@1000.service';
let root: string;

/** A cgroup v2 tree as systemd lays it out for a logged-in user with delegation (files the kernel would create). */
async function fakeV2Tree(opts: { delegated?: string; subtree?: string; svcProcs?: string; swap?: boolean } = {}): Promise<string> {
  const cg = join(root, 'cgroup');
  const dirs = ['', 'user.slice', 'user.slice/user-1000.slice', USER_SVC, `${USER_SVC}/app.slice`, `${USER_SVC}/app.slice/node.scope`,
    'user.slice/user-1000.slice/session-3.scope'];
  for (const d of dirs) {
    await mkdir(join(cg, d), { recursive: true });
    for (const f of ['cgroup.procs', 'cgroup.controllers', 'cgroup.subtree_control']) await writeFile(join(cg, d, f), '');
  }
  await writeFile(join(cg, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  await writeFile(join(cg, USER_SVC, 'cgroup.controllers'), `${opts.delegated ?? 'cpu memory pids'}\n`);
  await writeFile(join(cg, USER_SVC, 'cgroup.subtree_control'), `${opts.subtree ?? 'cpu memory pids'}\n`);
  await writeFile(join(cg, USER_SVC, 'cgroup.procs'), opts.svcProcs ?? '');
  await writeFile(join(cg, `${USER_SVC}/app.slice/node.scope`, 'cgroup.procs'), '4242\n');
  await writeFile(join(cg, 'user.slice/user-1000.slice/session-3.scope', 'cgroup.procs'), '777\n');
  if (opts.swap !== false) await writeFile(join(cg, USER_SVC, 'memory.swap.max'), 'max\n');
  // Delegation = the user@1000.service subtree is chowned to the user; everything above stays root's (0755/0644).
  for (const d of dirs) {
    const p = join(cg, d);
    const delegated = d.startsWith(USER_SVC);
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control']) {
      if (isRoot) await chown(join(p, f), delegated ? UID : 0, delegated ? UID : 0);
      await chmod(join(p, f), delegated || isRoot ? (f === '' ? 0o755 : 0o644) : (f === '' ? 0o555 : 0o444));
    }
  }
  return cg;
}

beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'slipway-cg-')); });
afterEach(async () => {
  const { execFileSync } = await import('node:child_process');
  execFileSync('chmod', ['-R', 'u+w', root]);
  await rm(root, { recursive: true, force: true });
});

const MOUNTINFO_HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('cgroup v2 delegated (fake tree)', () => {
  it('finds the delegation root by walking up from its own cgroup, and reports controllers', async () => {
    const cg = await fakeV2Tree();
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: `0::/${USER_SVC}/app.slice/node.scope\n`, uid: UID });
    expect(env.version).toBe(2);
    expect(env.rootless).toBe(true);
    expect(env.delegationRoot).toBe(join(cg, USER_SVC));
    expect(env.parents).toEqual({ memory: join(cg, USER_SVC, 'slipway.slice'), cpu: join(cg, USER_SVC, 'slipway.slice'), pids: join(cg, USER_SVC, 'slipway.slice') });
    expect(env.swap).toBe(true);
    expect(env.unavailable).toEqual({});
  });

  it('creates slipway.slice/<id>, enables controllers level by level and writes v2 limits', async () => {
    const cg = await fakeV2Tree({ subtree: 'memory pids' });
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: `0::/${USER_SVC}/app.slice/node.scope`, uid: UID });
    const h = await createCgroup(env, 'c1', { memory: 128 << 20, memorySwap: 192 << 20, cpus: 0.5, cpuShares: 512, pids: 64 });
    const leaf = join(cg, USER_SVC, 'slipway.slice', 'c1');
    expect(h?.version).toBe(2);
    expect(h?.path).toBe(leaf);
    const read = (f: string) => readFile(join(leaf, f), 'utf8');
    expect(await read('memory.max')).toBe(String(128 << 20));
    expect(await read('memory.swap.max')).toBe(String(64 << 20));
    expect(await read('cpu.max')).toBe('50000 100000');
    expect(await read('cpu.weight')).toBe(String(sharesToWeight(512)));
    expect(await read('pids.max')).toBe('64');
    // cpu was missing in the delegation root's subtree_control: one "+cpu" write (a fake file keeps only the last write)
    expect(await readFile(join(cg, USER_SVC, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu');
    expect((await readFile(join(cg, USER_SVC, 'slipway.slice', 'cgroup.subtree_control'), 'utf8'))).toMatch(/^\+(memory|cpu|pids)$/);

    await writeFile(join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n');
    expect(await h!.oomKilled()).toBe(false);
    await writeFile(join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    expect(await h!.oomKilled()).toBe(true);
    await writeFile(join(leaf, 'memory.peak'), '1234567\n');
    expect(await h!.memoryPeak()).toBe(1234567);

    await addProcess(h!, 4243);
    expect(await read('cgroup.procs')).toBe('4243');
    await rm(join(leaf, 'memory.max')); await rm(join(leaf, 'memory.swap.max')); await rm(join(leaf, 'cpu.max'));
    await rm(join(leaf, 'cpu.weight')); await rm(join(leaf, 'pids.max')); await rm(join(leaf, 'memory.events'));
    await rm(join(leaf, 'memory.peak')); await rm(join(leaf, 'cgroup.procs'));
    await h!.remove();
    await expect(stat(leaf)).rejects.toMatchObject({ code: 'ENOENT' });
    await h!.remove(); // idempotent
  });

  it('maps unlimited swap and pids to "max"', async () => {
    const cg = await fakeV2Tree();
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: `0::/${USER_SVC}/app.slice/node.scope`, uid: UID });
    const h = await createCgroup(env, 'c2', { memory: 1 << 20, memorySwap: -1, pids: -1 });
    expect(h?.applied).toEqual({ 'memory.max': String(1 << 20), 'memory.swap.max': 'max', 'pids.max': 'max' });
  });

  it('says which controller is not delegated, with the systemd fix, and bestEffort skips it', async () => {
    const cg = await fakeV2Tree({ delegated: 'memory pids', subtree: 'memory pids' });
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: `0::/${USER_SVC}/app.slice/node.scope`, uid: UID });
    expect(env.unavailable.cpu).toContain('not delegated');
    const err = await createCgroup(env, 'c3', { cpus: 1, memory: 1 << 24 }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_CGROUP_UNAVAILABLE')).toBe(true);
    expect((err as SlipwayError).message).toContain('cannot enforce cpu');
    expect((err as SlipwayError).hint).toContain('Delegate=');
    const h = await createCgroup(env, 'c3', { cpus: 1, memory: 1 << 24 }, { bestEffort: true });
    expect(h?.applied).toEqual({ 'memory.max': String(1 << 24) });
  });

  it('refuses controllers the delegation root cannot enable because it holds processes', async () => {
    const cg = await fakeV2Tree({ subtree: 'memory', svcProcs: '99\n' });
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: `0::/${USER_SVC}/app.slice/node.scope`, uid: UID });
    expect(env.parents.memory).toBeDefined();
    expect(env.unavailable.pids).toContain('no-internal-process');
  });

  it('reports a session scope (not delegated) as unusable', async () => {
    const cg = await fakeV2Tree();
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: '0::/user.slice/user-1000.slice/session-3.scope', uid: UID });
    expect(env.version).toBe('none');
    expect(env.reason).toContain(`session-3.scope is not delegated to uid ${UID}`);
    expect(env.hint).toContain('systemd-run --user --scope -p Delegate=yes');
    const err = await createCgroup(env, 'x', { memory: 1 << 24 }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_CGROUP_UNAVAILABLE')).toBe(true);
    expect(await createCgroup(env, 'x', { memory: 1 << 24 }, { bestEffort: true })).toBeUndefined();
    expect(await createCgroup(env, 'x', {})).toBeUndefined();
  });

  it('as root inside a cgroup namespace (root has cgroup.type and processes) refuses controllers not yet enabled', async () => {
    const cg = await fakeV2Tree();
    await chmod(cg, 0o755);
    for (const f of ['cgroup.procs', 'cgroup.controllers', 'cgroup.subtree_control']) await chmod(join(cg, f), 0o644);
    await writeFile(join(cg, 'cgroup.type'), 'domain\n');
    await writeFile(join(cg, 'cgroup.procs'), '1\n57\n');
    await writeFile(join(cg, 'cgroup.controllers'), 'cpu memory pids\n');
    await writeFile(join(cg, 'cgroup.subtree_control'), 'memory\n');
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: '0::/', uid: 0 });
    expect(env.parents.memory).toBe(join(cg, 'slipway'));
    expect(env.unavailable.pids).toContain('no-internal-process');
    expect(env.unavailable.cpu).toContain('no-internal-process');
  });

  it.runIf(isRoot)('as root uses <mount>/slipway/<id>', async () => {
    const cg = await fakeV2Tree();
    const env = await detectCgroups({ cgroupRoot: cg, procSelfCgroup: '0::/init.scope', uid: 0 });
    expect(env.parents.memory).toBe(join(cg, 'slipway'));
    const h = await createCgroup(env, 'r1', { pids: 10 });
    expect(h?.path).toBe(join(cg, 'slipway', 'r1'));
    expect(await readFile(join(cg, 'slipway', 'r1', 'pids.max'), 'utf8')).toBe('10');
  });
});

describe('detection from mountinfo', () => {
  it('on a hybrid host says the unified hierarchy has no controllers and uses v1 as root', async () => {
    await mkdir(join(root, 'unified'));
    await writeFile(join(root, 'unified', 'cgroup.controllers'), 'hugetlb\n');
    const mountinfo = MOUNTINFO_HYBRID.replaceAll('/sys/fs/cgroup', root);
    const env = await detectCgroups({ mountinfo, procSelfCgroup: '0::/\n4:memory:/\n', uid: 0 });
    expect(env.version).toBe(1);
    expect(env.parents).toEqual({ memory: join(root, 'memory/slipway'), cpu: join(root, 'cpu/slipway'), pids: join(root, 'pids/slipway') });
    expect(env.notes.join('\n')).toContain(`cgroup2 at ${join(root, 'unified')} has only hugetlb`);
  });

  it('rootless on cgroup v1 is unusable, with the fix', async () => {
    const env = await detectCgroups({ mountinfo: MOUNTINFO_HYBRID.replaceAll('/sys/fs/cgroup', root), procSelfCgroup: '0::/', uid: 1000 });
    expect(env.version).toBe('none');
    expect(env.reason).toContain('cgroup v1 limits need root');
    expect(env.hint).toContain('run as root');
    const err = await createCgroup(env, 'x', { pids: 5 }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_CGROUP_UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toContain('cannot enforce pids: cgroup v1 limits need root');
  });

  it('no cgroup mounts at all', async () => {
    const env = await detectCgroups({ mountinfo: '1 0 0:1 / / rw - ext4 /dev/root rw', procSelfCgroup: '' });
    expect(env.version).toBe('none');
    expect(env.reason).toContain('no cgroup filesystem');
  });

  it('a read-only cgroup2 mount is reported', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    const env = await detectCgroups({ mountinfo: `30 23 0:27 / ${root} ro,nosuid - cgroup2 cgroup2 rw`, procSelfCgroup: '0::/', uid: 0 });
    expect(env.version).toBe('none');
    expect(env.reason).toContain('read-only');
  });
});

describe('limits', () => {
  it('converts shares to weight like crun', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(100);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(512)).toBeGreaterThan(1);
    expect(sharesToWeight(512)).toBeLessThan(100);
  });
  it('rejects inconsistent limits, naming the field', () => {
    expect(() => validateLimits({ memorySwap: 10 })).toThrow(/memorySwap.*together with memory/);
    expect(() => validateLimits({ memory: 100, memorySwap: 50 })).toThrow(/memorySwap.*at least memory/);
    expect(() => validateLimits({ cpus: 0 })).toThrow(/invalid cpus/);
    expect(() => validateLimits({ cpuShares: 1 })).toThrow(/invalid cpuShares/);
    expect(() => validateLimits({ pids: 0 })).toThrow(/invalid pids/);
    expect(() => validateLimits({ memory: -1 })).toThrow(/invalid memory/);
    expect(() => validateLimits({ memory: 100, memorySwap: -1, pids: -1, cpus: 0.5, cpuShares: 1024 })).not.toThrow();
  });
  it('rejects unsafe container ids', async () => {
    const env = await detectCgroups({ mountinfo: '', procSelfCgroup: '' });
    await expect(createCgroup(env, '../x', {})).rejects.toThrow(/invalid containerId/);
  });
});

/**
 * Real cgroup limits on this host (root, cgroup v1 controllers; the cgroup2 mount has none).
 * A child process is started paused (it waits for a line on stdin), moved into the cgroup, then released — the same
 * order the runtime uses between CREATE and START.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addProcess, createCgroup, detectCgroups, parseMemory, sweepCgroups, type CgroupHandle } from '../../../src/runtime/cgroups/index.js';
import { isRoot, skipUnless } from '../harness/index.js';

const env = await detectCgroups();
const handles: CgroupHandle[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 50));
  for (const h of handles.splice(0)) {
    // Grandchildren (the pids test's sleeps) outlive their parent: kill whatever is still in the cgroup.
    const procs = await readFile(join(h.path, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
    await h.remove();
  }
});

/** Starts `node -e script` paused until released, so it can be put into the cgroup before it does anything. */
function paused(script: string): { child: ChildProcess; release: () => void; exit: Promise<[number | null, NodeJS.Signals | null]>; output: () => string } {
  const child = spawn(process.execPath, ['-e', `process.stdin.once('data', () => { process.stdin.pause(); ${script} })`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, release: () => child.stdin!.end('go\n'), exit, output: () => out };
}

const v1Root = env.version === 1 && !env.rootless && Object.keys(env.parents).length === 3;
skipUnless(isRoot() && v1Root, `needs root with cgroup v1 memory/cpu/pids (found: ${env.version}, ${env.reason ?? ''})`)('cgroup v1 as root (real)', () => {
  it('detects v1 and notes the empty unified hierarchy', () => {
    expect(env.version).toBe(1);
    expect(env.parents.memory).toBe('/sys/fs/cgroup/memory/slipway');
    expect(env.notes.join(' ')).toMatch(/cgroup2 at \/sys\/fs\/cgroup\/unified has (only hugetlb|no controllers)/);
  });

  it('OOM-kills a process over its memory limit and reports it', async () => {
    const id = `it-oom-${process.pid}`;
    const h = (await createCgroup(env, id, { memory: parseMemory('48m'), memorySwap: parseMemory('48m') }))!;
    handles.push(h);
    expect(h.path).toBe(`/sys/fs/cgroup/memory/slipway/${id}`);
    expect((await readFile(join(h.path, 'memory.limit_in_bytes'), 'utf8')).trim()).toBe(String(48 << 20));
    expect(await h.oomKilled()).toBe(false);
    // Touch 200 MB, 1 MB at a time, so the pages are really charged.
    const p = paused(`const a = []; for (let i = 0; i < 200; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log('survived')`);
    await addProcess(h, p.child.pid!);
    expect((await readFile(join(h.path, 'cgroup.procs'), 'utf8')).trim().split('\n')).toContain(String(p.child.pid));
    p.release();
    const [code, signal] = await p.exit;
    expect(p.output()).not.toContain('survived');
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await h.oomKilled()).toBe(true);
    const peak = await h.memoryPeak();
    expect(peak).toBeGreaterThan(40 << 20);
    expect(peak).toBeLessThanOrEqual(48 << 20);
  });

  it('the same allocation passes without the limit (control)', async () => {
    const h = (await createCgroup(env, `it-nooom-${process.pid}`, {}))!;
    handles.push(h);
    const p = paused(`const a = []; for (let i = 0; i < 200; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log('survived')`);
    await addProcess(h, p.child.pid!);
    p.release();
    expect((await p.exit)[0]).toBe(0);
    expect(p.output()).toContain('survived');
    expect(await h.oomKilled()).toBe(false);
  });

  it('the pids limit makes fork fail', async () => {
    const h = (await createCgroup(env, `it-pids-${process.pid}`, { pids: 12 }))!;
    handles.push(h);
    expect((await readFile(join(h.paths.pids!, 'pids.max'), 'utf8')).trim()).toBe('12');
    // node itself uses ~7-11 tasks (threads count); spawning 20 sleeps must hit EAGAIN.
    const p = paused(`
      const { spawn } = require('child_process'); let ok = 0, failed = 0, n = 0;
      for (let i = 0; i < 20; i++) { const c = spawn('sleep', ['5']); c.on('spawn', () => { ok++; done(); }); c.on('error', (e) => { failed++; console.log(e.code); done(); }); }
      function done() { if (++n === 20) { console.log('ok=' + ok + ' failed=' + failed); process.exit(0); } }`);
    await addProcess(h, p.child.pid!);
    p.release();
    await p.exit;
    const m = /ok=(\d+) failed=(\d+)/.exec(p.output());
    expect(m, p.output()).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(p.output()).toContain('EAGAIN');
    const events = await readFile(join(h.paths.pids!, 'pids.events'), 'utf8');
    expect(Number(/max (\d+)/.exec(events)![1])).toBeGreaterThan(0);
  });

  it('writes the cpu quota and the kernel throttles a busy loop', async () => {
    const h = (await createCgroup(env, `it-cpu-${process.pid}`, { cpus: 0.2, cpuShares: 256 }))!;
    handles.push(h);
    const read = (f: string) => readFile(join(h.paths.cpu!, f), 'utf8').then((s) => s.trim());
    expect(await read('cpu.cfs_period_us')).toBe('100000');
    expect(await read('cpu.cfs_quota_us')).toBe('20000');
    expect(await read('cpu.shares')).toBe('256');
    const p = paused(`const end = Date.now() + 600; let x = 0; while (Date.now() < end) x++; const u = process.cpuUsage(); console.log('cpu=' + (u.user + u.system))`);
    await addProcess(h, p.child.pid!);
    p.release();
    await p.exit;
    const stat = await read('cpu.stat');
    expect(Number(/nr_throttled (\d+)/.exec(stat)![1])).toBeGreaterThan(0);
    // 600 ms of wall time at 0.2 CPU: well under 600 ms of CPU (allow slack for the period boundaries).
    const used = Number(/cpu=(\d+)/.exec(p.output())![1]);
    expect(used / 1000).toBeLessThan(350);
  });

  it('remove() retries while the last process exits, and is idempotent', async () => {
    const h = (await createCgroup(env, `it-rm-${process.pid}`, { memory: parseMemory('64m'), pids: 50 }))!;
    const p = paused(`setTimeout(() => {}, 10000)`);
    await addProcess(h, p.child.pid!);
    setTimeout(() => p.child.kill('SIGKILL'), 150);
    await h.remove();
    await expect(stat(h.paths.memory!)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(h.paths.pids!)).rejects.toMatchObject({ code: 'ENOENT' });
    await h.remove();
  });

  it('sweepCgroups removes empty leftovers but never a cgroup with processes or a fresh one', async () => {
    const stale = (await createCgroup(env, `it-stale-${process.pid}`, { pids: 5 }))!;
    const busy = (await createCgroup(env, `it-busy-${process.pid}`, { pids: 5 }))!;
    handles.push(stale, busy);
    const p = paused(`setTimeout(() => {}, 10000)`);
    await addProcess(busy, p.child.pid!);
    expect(await sweepCgroups(env)).not.toContain(stale.paths.pids);
    // Age both (kernfs keeps a settable mtime); other processes' fresh cgroups stay protected by the default 60 s.
    const old = new Date(Date.now() - 3_600_000);
    for (const d of [...Object.values(stale.paths), ...Object.values(busy.paths)]) await utimes(d!, old, old);
    const removed = await sweepCgroups(env);
    expect(removed).toEqual(expect.arrayContaining([stale.paths.memory, stale.paths.cpu, stale.paths.pids]));
    expect(removed).not.toContain(busy.paths.pids);
    expect(removed).not.toContain(busy.paths.memory);
    await expect(stat(busy.paths.memory!)).resolves.toBeDefined();
  });

  it('replaces an empty leftover with the same id but refuses one that holds processes', async () => {
    const id = `it-dup-${process.pid}`;
    const first = (await createCgroup(env, id, { pids: 7 }))!;
    handles.push(first);
    const second = (await createCgroup(env, id, { pids: 9 }))!;
    expect((await readFile(join(second.paths.pids!, 'pids.max'), 'utf8')).trim()).toBe('9');
    const p = paused(`setTimeout(() => {}, 10000)`);
    await addProcess(second, p.child.pid!);
    await expect(createCgroup(env, id, { pids: 11 })).rejects.toThrow(/ERR_CGROUP_UNAVAILABLE: cgroup .* already exists and is in use/);
  });

  it('a limit on a missing memsw file or unknown host fails loudly unless bestEffort', async () => {
    const fake = { ...env, swap: false };
    await expect(createCgroup(fake, `it-sw-${process.pid}`, { memory: 1 << 24, memorySwap: 1 << 25 })).rejects.toThrow(/ERR_CGROUP_UNAVAILABLE: cannot enforce memorySwap.*swapaccount=1/);
    const h = await createCgroup(fake, `it-sw-${process.pid}`, { memory: 1 << 24, memorySwap: 1 << 25 }, { bestEffort: true });
    handles.push(h!);
    expect(h!.applied).toEqual({ 'memory.limit_in_bytes': String(1 << 24) });
  });
});

describe('cgroup v2 on this host', () => {
  it('the unified mount is detected and, without controllers, is not used', async () => {
    const v2only = await detectCgroups({ cgroupRoot: '/sys/fs/cgroup/unified', procSelfCgroup: await readFile('/proc/self/cgroup', 'utf8') });
    const controllers = (await readFile('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').catch(() => 'x')).trim().split(/\s+/);
    if (controllers.includes('memory')) return; // a host with real v2 controllers: nothing to assert here
    expect(v2only.notes.join(' ')).toContain('cgroup2 at /sys/fs/cgroup/unified has');
    expect(Object.keys(v2only.parents)).toEqual([]);
    expect(v2only.unavailable.memory).toContain(isRoot()
      ? 'not available in cgroup2 at /sys/fs/cgroup/unified'
      : `is not delegated to uid ${process.getuid!()}`);
    await expect(createCgroup(v2only, 'x', { memory: 1 << 24 })).rejects.toThrow(/ERR_CGROUP_UNAVAILABLE: cannot enforce memory/);
  });
});

skipUnless(!isRoot() && env.version !== 2, 'rootless-only: run as an unprivileged user on a v1/hybrid host')('rootless on this host (real)', () => {
  it('detects that limits cannot be enforced, says why and how to fix it; bestEffort runs without', async () => {
    expect(env.version).toBe('none');
    expect(env.reason).toMatch(/cgroup v1 limits need root|not delegated/);
    const err = await createCgroup(env, `rl-${process.pid}`, { memory: parseMemory('64m') }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^ERR_CGROUP_UNAVAILABLE: cannot enforce memory: .*; fix: run as root, or boot with cgroup v2/);
    expect(await createCgroup(env, `rl-${process.pid}`, { memory: parseMemory('64m') }, { bestEffort: true })).toBeUndefined();
    expect(await createCgroup(env, `rl-${process.pid}`, {})).toBeUndefined();
  });
});

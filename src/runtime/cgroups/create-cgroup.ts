import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlipwayError, invalidArgument } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import type { CgroupController, CgroupEnvironment, CgroupHandle, ResourceLimits } from './types.js';

const log = logger('cgroups');
const CPU_PERIOD = 100_000;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Options for {@link createCgroup}. */
export interface CreateCgroupOptions {
  /** Run without the limits that cannot be enforced (one debug note) instead of throwing. @defaultValue false */
  bestEffort?: boolean;
}

/** Converts cgroup v1 `cpu.shares` to v2 `cpu.weight` (the crun/runc quadratic mapping: 2→1, 1024→100, 262144→10000). */
export function sharesToWeight(shares: number): number {
  if (shares <= 2) return 1;
  if (shares >= 262_144) return 10_000;
  const l = Math.log2(shares);
  const w = Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
  return Math.min(10_000, Math.max(1, w));
}

/** Checks limits for consistency; throws `ERR_INVALID_ARGUMENT` naming the bad field. */
export function validateLimits(limits: ResourceLimits): void {
  const { memory, memorySwap, cpus, cpuShares, pids } = limits;
  if (memory !== undefined && (!Number.isSafeInteger(memory) || memory <= 0)) throw invalidArgument('memory', memory, 'a positive integer number of bytes');
  if (memorySwap !== undefined) {
    if (!Number.isSafeInteger(memorySwap) || (memorySwap <= 0 && memorySwap !== -1)) throw invalidArgument('memorySwap', memorySwap, 'a positive integer number of bytes (memory + swap), or -1 for unlimited');
    if (memory === undefined) throw invalidArgument('memorySwap', memorySwap, 'to be set together with memory');
    if (memorySwap !== -1 && memorySwap < memory) throw invalidArgument('memorySwap', memorySwap, `memory + swap, so at least memory (${memory})`);
  }
  if (cpus !== undefined && (!Number.isFinite(cpus) || cpus < 0.01)) throw invalidArgument('cpus', cpus, 'a number of CPUs of at least 0.01');
  if (cpuShares !== undefined && (!Number.isInteger(cpuShares) || cpuShares < 2 || cpuShares > 262_144)) throw invalidArgument('cpuShares', cpuShares, 'an integer from 2 to 262144');
  if (pids !== undefined && (!Number.isSafeInteger(pids) || (pids <= 0 && pids !== -1))) throw invalidArgument('pids', pids, 'a positive integer, or -1 for unlimited');
}

/** Which controller each limit needs. */
function neededControllers(l: ResourceLimits): Set<CgroupController> {
  const s = new Set<CgroupController>();
  if (l.memory !== undefined) s.add('memory');
  if (l.cpus !== undefined || l.cpuShares !== undefined) s.add('cpu');
  if (l.pids !== undefined) s.add('pids');
  return s;
}

/** The interface files to write, per controller, in order. */
function plan(env: CgroupEnvironment, l: ResourceLimits, usable: Set<CgroupController>): Array<[CgroupController, string, string]> {
  const v2 = env.version === 2;
  const out: Array<[CgroupController, string, string]> = [];
  if (l.memory !== undefined && usable.has('memory')) {
    out.push(['memory', v2 ? 'memory.max' : 'memory.limit_in_bytes', String(l.memory)]);
    if (l.memorySwap !== undefined && env.swap) {
      if (v2) out.push(['memory', 'memory.swap.max', l.memorySwap === -1 ? 'max' : String(l.memorySwap - l.memory)]);
      else out.push(['memory', 'memory.memsw.limit_in_bytes', String(l.memorySwap)]);
    }
  }
  if (usable.has('cpu')) {
    if (l.cpus !== undefined) {
      const quota = Math.max(1000, Math.round(l.cpus * CPU_PERIOD));
      if (v2) out.push(['cpu', 'cpu.max', `${quota} ${CPU_PERIOD}`]);
      else out.push(['cpu', 'cpu.cfs_period_us', String(CPU_PERIOD)], ['cpu', 'cpu.cfs_quota_us', String(quota)]);
    }
    if (l.cpuShares !== undefined) {
      out.push(v2 ? ['cpu', 'cpu.weight', String(sharesToWeight(l.cpuShares))] : ['cpu', 'cpu.shares', String(l.cpuShares)]);
    }
  }
  if (l.pids !== undefined && usable.has('pids')) out.push(['pids', 'pids.max', l.pids === -1 ? 'max' : String(l.pids)]);
  return out;
}

function unavailableError(env: CgroupEnvironment, what: string[], reasons: string[]): SlipwayError {
  return new SlipwayError('ERR_CGROUP_UNAVAILABLE', `cannot enforce ${what.join(', ')}: ${reasons.join('; ')}`, {
    hint: env.hint ?? 'use withBestEffortLimits() to start without these limits',
  });
}

async function writeControl(dir: string, file: string, value: string): Promise<void> {
  try {
    await writeFile(join(dir, file), value);
  } catch (cause) {
    const internal = file === 'cgroup.subtree_control' && (cause as NodeJS.ErrnoException).code === 'EBUSY';
    throw new SlipwayError('ERR_CGROUP_UNAVAILABLE', `writing "${value}" to ${join(dir, file)} failed: ${(cause as Error).message}` +
      (internal ? ' (the cgroup holds processes: cgroup v2 no-internal-process rule)' : ''), {
      cause,
      hint: internal
        ? `move the processes of ${dir} into a child cgroup first (as Docker-in-Docker entrypoints do with /sys/fs/cgroup/init), or use withBestEffortLimits() to start without the limits`
        : 'check that the cgroup controller is enabled and delegated to this user',
    });
  }
}

/** Enables controllers for the children of `dir` (one write per controller, so a failure names it). */
async function enableControllers(dir: string, controllers: Iterable<CgroupController>): Promise<void> {
  const current = new Set((await readFile(join(dir, 'cgroup.subtree_control'), 'utf8').catch(() => '')).split(/\s+/));
  for (const c of controllers) {
    if (current.has(c)) continue;
    await writeControl(dir, 'cgroup.subtree_control', `+${c}`);
  }
}

/**
 * Creates the cgroup(s) for one container and writes its limits. Call it after the keeper created the container and
 * before START, then {@link addProcess} with the container's host pid: everything it forks stays inside.
 *
 * With no limits it still creates a cgroup when the host allows it (for OOM and peak-memory reports), and returns
 * `undefined` silently when it does not.
 *
 * @param containerId - a directory-safe id (letters, digits, `_.-`).
 * @returns the handle, or `undefined` when nothing could be created and that was allowed.
 * @throws SlipwayError `ERR_CGROUP_UNAVAILABLE` with the reason and the fix when a requested limit cannot be enforced
 *   (unless `bestEffort`), `ERR_INVALID_ARGUMENT` for inconsistent limits.
 * @example
 * const env = await detectCgroups();
 * const cg = await createCgroup(env, id, { memory: parseMemory('256m'), pids: 512 });
 * await addProcess(cg, containerPid);
 */
export async function createCgroup(
  env: CgroupEnvironment, containerId: string, limits: ResourceLimits, opts: CreateCgroupOptions = {},
): Promise<CgroupHandle | undefined> {
  if (!ID_RE.test(containerId)) throw invalidArgument('containerId', containerId, 'letters, digits, "_", "." and "-" (at most 128)');
  validateLimits(limits);
  const needed = neededControllers(limits);
  const asked = needed.size > 0 || limits.memorySwap !== undefined;

  const missing: string[] = [];
  const reasons: string[] = [];
  for (const c of needed) {
    if (env.parents[c] === undefined) { missing.push(c); reasons.push(env.unavailable[c] ?? env.reason ?? `${c} is unavailable`); }
  }
  if (limits.memorySwap !== undefined && limits.memorySwap !== -1 && env.parents.memory !== undefined && !env.swap) {
    missing.push('memorySwap');
    reasons.push(env.version === 1 ? 'memory.memsw.limit_in_bytes is missing (boot with swapaccount=1)' : 'memory.swap.max is missing (the kernel does not account swap)');
  }
  if (missing.length > 0) {
    const err = unavailableError(env, missing, reasons);
    if (!opts.bestEffort) throw err;
    log('best effort: running %s without %s: %s', containerId, missing.join(', '), err.message);
  }

  const usable = new Set((Object.keys(env.parents) as CgroupController[]));
  if (env.version === 'none' || usable.size === 0) return undefined;
  try {
    return await (env.version === 1 ? createV1(env, containerId, limits, usable) : createV2(env, containerId, limits, usable));
  } catch (err) {
    if (!asked) { log('no limits asked; not using cgroups for %s: %s', containerId, (err as Error).message); return undefined; }
    if (opts.bestEffort) { log('best effort: running %s without limits: %s', containerId, (err as Error).message); return undefined; }
    throw err;
  }
}

async function createV1(env: CgroupEnvironment, id: string, limits: ResourceLimits, usable: Set<CgroupController>): Promise<CgroupHandle> {
  const paths: Partial<Record<CgroupController, string>> = {};
  try {
    for (const c of usable) {
      await mkdir(env.parents[c]!, { recursive: true });
      paths[c] = await makeLeaf(join(env.parents[c]!, id));
    }
    const applied = await applyPlan(plan(env, limits, usable), paths);
    return makeHandle(1, paths, applied);
  } catch (err) {
    await removeDirs(Object.values(paths)).catch(() => undefined);
    throw err;
  }
}

async function createV2(env: CgroupEnvironment, id: string, limits: ResourceLimits, usable: Set<CgroupController>): Promise<CgroupHandle> {
  const parent = env.parents[[...usable][0]!]!;
  // Controllers must be enabled level by level: the delegation root enables them for slipway(.slice), which enables
  // them for the per-container leaf. Neither level holds processes, so the no-internal-process rule is respected.
  if (env.delegationRoot !== undefined) await enableControllers(env.delegationRoot, usable);
  await mkdir(parent, { recursive: true });
  await enableControllers(parent, usable);
  const dir = await makeLeaf(join(parent, id));
  const paths: Partial<Record<CgroupController, string>> = {};
  for (const c of usable) paths[c] = dir;
  try {
    const applied = await applyPlan(plan(env, limits, usable), paths);
    return makeHandle(2, paths, applied);
  } catch (err) {
    await removeDirs([dir]).catch(() => undefined);
    throw err;
  }
}

/** Creates a container's cgroup; an empty leftover with the same id (a killed run) is replaced, a populated one is an error. */
async function makeLeaf(dir: string): Promise<string> {
  try {
    await mkdir(dir);
    return dir;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  try {
    await rmdir(dir);
  } catch (cause) {
    throw new SlipwayError('ERR_CGROUP_UNAVAILABLE', `cgroup ${dir} already exists and is in use`, {
      cause, hint: 'use a unique container id, or stop the container that owns it',
    });
  }
  await mkdir(dir);
  return dir;
}

async function applyPlan(steps: Array<[CgroupController, string, string]>, paths: Partial<Record<CgroupController, string>>): Promise<Record<string, string>> {
  const applied: Record<string, string> = {};
  for (const [c, file, value] of steps) {
    await writeControl(paths[c]!, file, value);
    applied[file] = value;
  }
  return applied;
}

function makeHandle(version: 1 | 2, paths: Partial<Record<CgroupController, string>>, applied: Record<string, string>): CgroupHandle {
  const path = paths.memory ?? Object.values(paths)[0]!;
  const memDir = paths.memory;
  return {
    path, paths, version, applied,
    async oomKilled() {
      if (!memDir) return false;
      const text = await readFile(join(memDir, version === 2 ? 'memory.events' : 'memory.oom_control'), 'utf8').catch(() => '');
      const kv = keyValues(text);
      if ((kv.get('oom_kill') ?? 0) > 0) return true;
      // Kernels before 4.13 have no oom_kill counter in v1; a cgroup still under OOM is the best remaining signal.
      return version === 1 && !kv.has('oom_kill') && (kv.get('under_oom') ?? 0) > 0;
    },
    async memoryPeak() {
      if (!memDir) return undefined;
      const text = await readFile(join(memDir, version === 2 ? 'memory.peak' : 'memory.max_usage_in_bytes'), 'utf8').catch(() => undefined);
      const n = text === undefined ? NaN : Number(text.trim());
      return Number.isFinite(n) ? n : undefined;
    },
    async remove() {
      await removeDirs([...new Set(Object.values(paths))]);
    },
  };
}

function keyValues(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

async function removeDirs(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code === 'EBUSY' && attempt < 40) { await new Promise((r) => setTimeout(r, 25)); continue; }
        throw new SlipwayError('ERR_RUNTIME', `cannot remove cgroup ${dir}: ${(err as Error).message}`, {
          cause: err, hint: code === 'EBUSY' ? 'processes are still in it; stop the container first' : undefined,
        });
      }
    }
  }
}

/**
 * Moves a process (normally the container's init, before it execs) into the container's cgroup(s).
 * @throws SlipwayError `ERR_CGROUP_UNAVAILABLE` when the kernel refuses (e.g. no write access to the common ancestor).
 */
export async function addProcess(handle: CgroupHandle, pid: number): Promise<void> {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw invalidArgument('pid', pid, 'a positive process id');
  for (const dir of new Set(Object.values(handle.paths))) await writeControl(dir, 'cgroup.procs', String(pid));
}

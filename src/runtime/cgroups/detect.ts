import { readFile, stat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { CgroupController, CgroupEnvironment } from './types.js';

/** Test seams and overrides for {@link detectCgroups}; by default everything comes from the running system. */
export interface DetectCgroupsOptions {
  /** Content of `/proc/self/mountinfo` (finds the v1 and v2 mounts). */
  mountinfo?: string;
  /** Content of `/proc/self/cgroup` (finds this process's own cgroup). */
  procSelfCgroup?: string;
  /** The cgroup2 mount point; overrides what `mountinfo` says about cgroup2 (and disables v1 unless `v1Root` is given). */
  cgroupRoot?: string;
  /** Directory holding the v1 controller mounts (`<v1Root>/memory`…); overrides `mountinfo` for v1. */
  v1Root?: string;
  /** Effective uid to detect for. @defaultValue `process.geteuid()` */
  uid?: number;
}

const CONTROLLERS: readonly CgroupController[] = ['memory', 'cpu', 'pids'];
const DELEGATE_HINT =
  'run the tests inside a delegated cgroup: `systemd-run --user --scope -p Delegate=yes <command>`, or add ' +
  '/etc/systemd/system/user@.service.d/delegate.conf with "[Service]\\nDelegate=cpu cpuset io memory pids" and re-login; ' +
  'or use withBestEffortLimits() to start without the limits';
const V1_ROOTLESS_HINT =
  'run as root, or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and a delegated user slice; or use withBestEffortLimits() to start without the limits';

interface Mount { root: string; point: string; fstype: string; readOnly: boolean; superOptions: string[] }

function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 6 || right.length < 3) continue;
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    mounts.push({
      root: unescape(left[3]!),
      point: unescape(left[4]!),
      readOnly: left[5]!.split(',').includes('ro'),
      fstype: right[0]!,
      superOptions: right[2]!.split(','),
    });
  }
  return mounts;
}

/** Parses `/proc/self/cgroup` into controller → path (`''` is the unified v2 entry). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const c of m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
}

async function readText(path: string): Promise<string | undefined> {
  try { return await readFile(path, 'utf8'); } catch { return undefined; }
}
async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch { return false; }
}
function words(text: string | undefined): Set<string> {
  return new Set((text ?? '').split(/\s+/).filter(Boolean));
}

/** Delegated cgroups are chowned to the user; root may write anywhere (read-only mounts are checked separately). */
async function writableBy(path: string, uid: number): Promise<boolean> {
  if (uid === 0) return exists(path);
  try {
    const st = await stat(path);
    return (st.uid === uid && (st.mode & 0o200) !== 0) || (st.mode & 0o002) !== 0;
  } catch {
    return false;
  }
}

/** Maps a path from /proc/self/cgroup to a directory under a mount whose root is `mountRoot`. */
function underMount(point: string, mountRoot: string, cgPath: string): string {
  let rel = cgPath;
  if (mountRoot !== '/' && (rel === mountRoot || rel.startsWith(`${mountRoot}/`))) rel = rel.slice(mountRoot.length);
  return join(point, posix.normalize(`/${rel}`));
}

/**
 * Finds out how container limits can be enforced on this host, without changing anything.
 *
 * - cgroup v2 (unified), root: per-container cgroups go to `<mount>/slipway/<id>`.
 * - cgroup v2, rootless: walks up from this process's own cgroup to the highest directory still writable by the user
 *   (the delegation root, e.g. `user@1000.service`), and uses `<that>/slipway.slice/<id>`. Moving a process between two
 *   cgroups needs write access to their common ancestor, which is why the highest writable ancestor is used and the
 *   Node process itself is never moved.
 * - cgroup v1, root: `<controller mount>/slipway/<id>` per controller. cgroup v1 rootless: unusable.
 *
 * Controllers only present on one hierarchy are taken from it (hybrid hosts mount memory/cpu/pids on v1 and an
 * empty cgroup2 at `/sys/fs/cgroup/unified`).
 */
export async function detectCgroups(opts: DetectCgroupsOptions = {}): Promise<CgroupEnvironment> {
  const uid = opts.uid ?? process.geteuid?.() ?? 0;
  const rootless = uid !== 0;
  const notes: string[] = [];
  const mounts = opts.mountinfo !== undefined || (opts.cgroupRoot === undefined && opts.v1Root === undefined)
    ? parseMountinfo(opts.mountinfo ?? (await readText('/proc/self/mountinfo')) ?? '')
    : [];
  const own = parseProcCgroup(opts.procSelfCgroup ?? (await readText('/proc/self/cgroup')) ?? '');

  const v2 = await detectV2(opts, mounts, own, uid, notes);
  if (v2 && Object.keys(v2.parents).length > 0) return v2;

  const v1 = await detectV1(opts, mounts, own, uid, notes);
  if (v1) return v1;
  if (v2) return v2;
  return {
    version: 'none', rootless, parents: {}, swap: false, unavailable: allUnavailable('no cgroup filesystem is mounted'),
    reason: 'no cgroup filesystem is mounted (looked in /proc/self/mountinfo)',
    hint: 'mount cgroup2 at /sys/fs/cgroup, or use withBestEffortLimits() to start without the limits', notes,
  };
}

function allUnavailable(reason: string): Partial<Record<CgroupController, string>> {
  return Object.fromEntries(CONTROLLERS.map((c) => [c, reason]));
}

async function detectV2(
  opts: DetectCgroupsOptions, mounts: Mount[], own: Map<string, string>, uid: number, notes: string[],
): Promise<CgroupEnvironment | undefined> {
  let point = opts.cgroupRoot;
  let mountRoot = '/';
  let readOnly = false;
  if (point === undefined) {
    const m = mounts.find((x) => x.fstype === 'cgroup2');
    if (!m) return undefined;
    ({ point, root: mountRoot, readOnly } = m);
  }
  const rootless = uid !== 0;
  const rootControllers = words(await readText(join(point, 'cgroup.controllers')));
  const missingEverywhere = CONTROLLERS.filter((c) => !rootControllers.has(c));
  if (missingEverywhere.length === CONTROLLERS.length) {
    const has = [...rootControllers];
    notes.push(`cgroup2 at ${point} has ${has.length ? `only ${has.join(', ')}` : 'no controllers'}` +
      ' (memory, cpu and pids are not attached to it; on hybrid hosts they are on cgroup v1 hierarchies)');
  }
  if (readOnly) {
    return none(2, rootless, `cgroup2 at ${point} is mounted read-only`, 'mount /sys/fs/cgroup read-write (e.g. docker run --cgroupns=private with a writable cgroup mount), or use withBestEffortLimits() to start without the limits', notes);
  }

  let delegationRoot: string;
  let parent: string;
  if (!rootless) {
    delegationRoot = point;
    parent = join(point, 'slipway');
  } else {
    const ownPath = own.get('');
    if (ownPath === undefined) return none(2, rootless, 'this process has no cgroup v2 entry in /proc/self/cgroup', DELEGATE_HINT, notes);
    let dir = underMount(point, mountRoot, ownPath);
    let top: string | undefined;
    while (dir.startsWith(point) && dir.length > point.length) {
      if (!(await writableBy(dir, uid)) || !(await writableBy(join(dir, 'cgroup.procs'), uid))) break;
      top = dir;
      dir = join(dir, '..');
    }
    if (top === undefined) {
      return none(2, rootless, `this process's cgroup ${underMount(point, mountRoot, ownPath)} is not delegated to uid ${uid} (not writable)`, DELEGATE_HINT, notes);
    }
    delegationRoot = top;
    parent = join(top, 'slipway.slice');
  }

  const controllers = words(await readText(join(delegationRoot, 'cgroup.controllers')));
  const subtree = words(await readText(join(delegationRoot, 'cgroup.subtree_control')));
  const procs = ((await readText(join(delegationRoot, 'cgroup.procs'))) ?? '').trim();
  // Only the real root cgroup may hold processes and still enable controllers for its children. It has no
  // cgroup.type file; the root of a cgroup namespace (e.g. inside a container) does, and obeys the rule.
  const realRoot = delegationRoot === point && !(await exists(join(point, 'cgroup.type')));
  const canEnable = realRoot || procs === '';
  const parents: Partial<Record<CgroupController, string>> = {};
  const unavailable: Partial<Record<CgroupController, string>> = {};
  for (const c of CONTROLLERS) {
    if (!controllers.has(c)) {
      unavailable[c] = delegationRoot === point
        ? `the ${c} controller is not available in cgroup2 at ${point}`
        : `the ${c} controller is not delegated to ${delegationRoot} (its cgroup.controllers: ${[...controllers].join(' ') || 'empty'})`;
    } else if (!subtree.has(c) && !canEnable) {
      unavailable[c] = `${delegationRoot} holds processes, so cgroup v2's no-internal-process rule forbids enabling ${c} for its children`;
    } else {
      parents[c] = parent;
    }
  }
  const swap = parents.memory !== undefined && (await hasSwapFile(delegationRoot));
  const missing = Object.keys(unavailable);
  return {
    version: 2, rootless, parents, delegationRoot, swap, unavailable, notes,
    ...(missing.length ? {
      reason: Object.values(unavailable).join('; '),
      hint: rootless ? DELEGATE_HINT : 'enable the controllers in the root cgroup.subtree_control, or use withBestEffortLimits() to start without the limits',
    } : {}),
  };
}

/** `memory.swap.max` exists in every non-root cgroup with memory enabled when the kernel accounts swap. */
async function hasSwapFile(dir: string): Promise<boolean> {
  if (await exists(join(dir, 'memory.swap.max'))) return true;
  try {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory() && (await exists(join(dir, e.name, 'memory.swap.max')))) return true;
    }
  } catch { /* unreadable: assume no swap accounting */ }
  return false;
}

async function detectV1(
  opts: DetectCgroupsOptions, mounts: Mount[], _own: Map<string, string>, uid: number, notes: string[],
): Promise<CgroupEnvironment | undefined> {
  const found: Partial<Record<CgroupController, { point: string; readOnly: boolean }>> = {};
  for (const c of CONTROLLERS) {
    if (opts.v1Root !== undefined) {
      const point = join(opts.v1Root, c);
      if (await exists(join(point, 'cgroup.procs'))) found[c] = { point, readOnly: false };
    } else {
      const m = mounts.find((x) => x.fstype === 'cgroup' && x.superOptions.includes(c));
      if (m) found[c] = { point: m.point, readOnly: m.readOnly };
    }
  }
  if (Object.keys(found).length === 0) return undefined;
  const rootless = uid !== 0;
  if (rootless) {
    return none(1, rootless, 'cgroup v1 limits need root: rootless containers cannot get cgroup limits on cgroup v1 hosts', V1_ROOTLESS_HINT, notes);
  }
  const parents: Partial<Record<CgroupController, string>> = {};
  const unavailable: Partial<Record<CgroupController, string>> = {};
  for (const c of CONTROLLERS) {
    const f = found[c];
    if (!f) unavailable[c] = `the ${c} controller is not mounted (no cgroup v1 hierarchy with ${c})`;
    else if (f.readOnly) unavailable[c] = `the ${c} hierarchy at ${f.point} is mounted read-only`;
    else parents[c] = join(f.point, 'slipway');
  }
  const swap = found.memory !== undefined && (await exists(join(found.memory.point, 'memory.memsw.limit_in_bytes')));
  const missing = Object.keys(unavailable);
  return {
    version: 1, rootless, parents, swap, unavailable, notes,
    ...(missing.length ? { reason: Object.values(unavailable).join('; '), hint: 'mount the missing cgroup v1 controllers, or use withBestEffortLimits() to start without the limits' } : {}),
  };
}

function none(version: 1 | 2, rootless: boolean, reason: string, hint: string, notes: string[]): CgroupEnvironment {
  notes.push(`cgroup v${version}: ${reason}`);
  return { version: 'none', rootless, parents: {}, swap: false, unavailable: allUnavailable(reason), reason, hint, notes };
}

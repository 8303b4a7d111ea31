/** Test fixtures for the keeper: a busybox root file system and container specs around it. */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Keeper, KeeperContainerSpec } from '../../../src/runtime/keeper/keeper.js';

const BUSYBOX = '/bin/busybox';

/** Why keeper tests cannot run here, or undefined. */
export function skipReason(): string | undefined {
  if (!existsSync(BUSYBOX)) return 'busybox-static is not installed (apt-get install busybox-static)';
  if (!existsSync(new URL('../../../native/build/slipway-helper', import.meta.url))) return 'native helper not built (make -C native)';
  return undefined;
}

let rootfs: string | undefined;

/** A busybox root file system (built once per test file), world-readable. */
export function busyboxRootfs(): string {
  if (rootfs) return rootfs;
  const base = mkdtempSync(join(tmpdir(), 'slipway-keeper-rootfs-'));
  chmodSync(base, 0o755);
  const r = join(base, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'root', 'home/user']) mkdirSync(join(r, d), { recursive: true, mode: 0o755 });
  chmodSync(join(r, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(r, 'bin', 'busybox'));
  chmodSync(join(r, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(r, 'bin', a));
  writeFileSync(join(r, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n');
  writeFileSync(join(r, 'etc', 'group'), 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n');
  rootfs = r;
  return r;
}

let toolsDir: string | undefined;

/**
 * An extra lower layer with small static test programs compiled from this directory
 * (`/bin/udp-echo`, `/bin/tcp-flood`): stack it above {@link busyboxRootfs} with `lowerDirs: [toolsLayer(), busyboxRootfs()]`.
 * @throws Error when no C compiler with static libc is available.
 */
export function toolsLayer(): string {
  if (toolsDir) return toolsDir;
  const base = mkdtempSync(join(tmpdir(), 'slipway-keeper-tools-'));
  chmodSync(base, 0o755);
  mkdirSync(join(base, 'bin'), { mode: 0o755 });
  for (const tool of ['udp-echo', 'tcp-flood']) {
    const src = new URL(`./${tool}.c`, import.meta.url).pathname;
    execFileSync('cc', ['-static', '-O2', '-o', join(base, 'bin', tool), src], { stdio: 'inherit' });
    chmodSync(join(base, 'bin', tool), 0o755);
  }
  toolsDir = base;
  return base;
}

let seq = 0;

/** A spec for a busybox container with its own upper/work/log inside the keeper's state dir. */
export function specFor(keeper: Keeper, argv: string[], extra: Partial<KeeperContainerSpec> = {}): KeeperContainerSpec {
  const id = `t${process.pid}-${++seq}`;
  const dir = join(keeper.stateDir, id);
  for (const d of ['upper', 'work', 'etc']) mkdirSync(join(dir, d), { recursive: true });
  return {
    id, stateDir: dir, lowerDirs: [busyboxRootfs()], upperDir: join(dir, 'upper'), workDir: join(dir, 'work'),
    argv, env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/root'], cwd: '/', uid: 0, gid: 0,
    hostname: 'box', netMode: 'none', logPath: join(dir, 'ctr.log'),
    ...extra,
  };
}

/** Runs a container to completion; returns its exit and the log text. */
export async function runToExit(keeper: Keeper, spec: KeeperContainerSpec): Promise<{ exit: Awaited<ReturnType<Keeper['waitContainer']>>; log: string; stdout: string }> {
  await keeper.createContainer(spec);
  await keeper.startContainer(spec.id);
  const exit = await keeper.waitContainer(spec.id);
  const log = readFileSync(spec.logPath!, 'utf8');
  const stdout = log.split('\n').filter((l) => / stdout [FP] /.test(l)).map((l) => l.replace(/^\S+ stdout [FP] /, '')).join('\n');
  await keeper.removeContainer(spec.id);
  return { exit, log, stdout };
}

/** Host id that an id inside the keeper's namespace maps to. */
export function hostId(map: { inside: number; outside: number; count: number }[], id: number): number {
  for (const l of map) if (id >= l.inside && id < l.inside + l.count) return l.outside + (id - l.inside);
  return -1;
}

/** True when the process is gone or a zombie. */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

/**
 * Waits (up to 5 s) until a removed container's files are gone (when `stateDir` is given) and the keeper has no child
 * left: REMOVE is answered once the container is dead; its state dir goes in a child of the keeper's afterwards, its
 * namespaces in another. (Not harness' until(): the child scripts import this file outside vitest.)
 */
export async function removalSettled(keeper: Keeper, stateDir?: string): Promise<void> {
  // A removal's dir is renamed .removing-<name> before REMOVE's answer and deleted by the keeper's janitor afterwards.
  const settled = () => (stateDir === undefined || !existsSync(stateDir)) && childrenOf(keeper.pid).length === 0 &&
    !readdirSync(keeper.stateDir).some((n) => n.startsWith('.removing-'));
  for (const t0 = Date.now(); !settled() && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 20));
}

function allChildrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const c = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
    if (c) out.push(...c.split(/\s+/).map(Number));
  }
  return out;
}

const isJanitor = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'slipway-janitor';
  } catch {
    return false;
  }
};

/** A keeper's janitors: long-lived children that close released namespaces and delete removed dirs (native/janitor.h). */
export function janitorsOf(pid: number): number[] {
  return allChildrenOf(pid).filter(isJanitor);
}

/** Child pids of a process (all threads), but a keeper's janitors (which live as long as it does). */
export function childrenOf(pid: number): number[] {
  return allChildrenOf(pid).filter((c) => !isJanitor(c));
}

/** Live processes whose command line is exactly `sleep <arg>` (a stand-in helper after its exec of sleep). */
export function sleepersOf(arg: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${arg}\0`) out.push(Number(p));
    } catch { /* gone */ }
  }
  return out;
}

/** Waits (polling every 20 ms) until `pred` holds or `ms` passed; the caller asserts after. */
export async function until(pred: () => boolean, ms = 5000): Promise<void> {
  for (const t0 = Date.now(); !pred() && Date.now() - t0 < ms;) await new Promise((r) => setTimeout(r, 20));
}

import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { logger } from '../../internal/debug.js';
import { findSystemTool } from './detect-tools.js';
import { HelperProcess, helperFailure, raceReady } from './helper-process.js';
import { GUEST_NET, INIT_PID_ARG, type OutboundLauncher, type OutboundNet } from './types.js';

const log = logger('network');

/** Options for {@link slirp4netnsArgs}/{@link startSlirp4netns}. */
export interface Slirp4netnsOptions {
  hostLoopback: boolean;
  mtu: number;
  ifname: string;
  /** `--enable-sandbox` (own mount namespace, capabilities dropped). @defaultValue true */
  sandbox?: boolean;
}

/** The fds slirp4netns gets: 3 = ready (it writes "1" once configured), 4 = exit (it quits when this hangs up). */
const READY_FD = 3;
const EXIT_FD = 4;

/**
 * The command line for a container whose init has host pid `pid` (slirp4netns joins its user and net namespaces).
 * `--disable-host-loopback` unless `hostLoopback`: without it, 10.0.2.2 reaches every port of the host's 127.0.0.1.
 */
export function slirp4netnsArgs(pid: number, o: Slirp4netnsOptions): string[] {
  return argsFor(String(pid), o);
}

/**
 * The command line (after the binary) for a prepared network namespace the keeper keeps (`null`: the path of the
 * namespace's fd, which the keeper writes in): the same options as a container's own, `--netns-type=path` instead of
 * a pid. The keeper answers a container's OUTBOUND with such a helper only when CREATE named this line.
 */
export function slirp4netnsPoolArgs(o: Slirp4netnsOptions): Array<string | null> {
  const a = argsFor<null>(null, o);
  a.splice(a.indexOf(null), 0, '--netns-type=path');
  return a;
}

/** The command line with `pid` (a number's text, or {@link INIT_PID_ARG} for the keeper to write in) in its place. */
function argsFor<P>(pid: P, o: Slirp4netnsOptions): Array<string | P> {
  return [
    '--configure', `--mtu=${o.mtu}`,
    ...(o.hostLoopback ? [] : ['--disable-host-loopback']),
    ...(o.sandbox === false ? [] : ['--enable-sandbox']),
    '-r', String(READY_FD), '-e', String(EXIT_FD),
    pid, o.ifname,
  ];
}

/**
 * Starts slirp4netns for `pid` and resolves once the interface is configured (the ready fd got its byte).
 *
 * The exit fd is one end of a socketpair whose other end only this Node process holds (close-on-exec, so the keeper
 * and other children do not inherit it): when Node dies, slirp4netns sees the hang-up and exits.
 *
 * With a launcher (the keeper), `pid` may still be pending: the request goes out at once and the keeper writes the pid in.
 */
export async function startSlirp4netns(bin: string, pid: number | Promise<number>, o: Slirp4netnsOptions & { timeoutMs: number; signal?: AbortSignal; launcher?: OutboundLauncher }): Promise<OutboundNet> {
  const t0 = performance.now();
  if (o.launcher) return startFromKeeper(o.launcher, bin, pid, o, t0);
  pid = await pid;
  const args = slirp4netnsArgs(pid, o);
  // As real root, --enable-sandbox's own mount namespace copies the host's shared mounts as peers (it makes only / private)
  // and its umount of the old root then propagates back: Docker's overlay mounts under its shared data-root vanished from
  // the host. unshare(1) gives slirp4netns a recursively private namespace to copy from, so nothing propagates out.
  // (A missing slirp4netns is spawned directly, so it is still reported as a spawn failure.)
  const unshare = o.sandbox !== false && process.geteuid?.() === 0 && (await isExecutable(bin)) ? await findUnshare() : undefined;
  const proc = unshare
    ? new HelperProcess('slirp4netns', unshare, ['--mount', '--propagation', 'private', '--', bin, ...args], 2, log)
    : new HelperProcess('slirp4netns', bin, args, 2, log);
  const readyPipe = proc.child.stdio[READY_FD] as Readable | null;
  const ready = new Promise<void>((resolve) => {
    readyPipe?.once('data', () => resolve());
  });
  readyPipe?.on('error', () => undefined);
  (proc.child.stdio[EXIT_FD] as Readable | null)?.on('error', () => undefined);
  await proc.waitReady(ready, o.timeoutMs, o.signal, `configure ${o.ifname} in the namespace of pid ${pid}`);
  readyPipe?.destroy();
  proc.unref();
  const startMs = performance.now() - t0;
  log('slirp4netns %d ready for pid %d in %d ms', proc.pid, pid, Math.round(startMs));
  return {
    tool: 'slirp4netns', pid: proc.pid, ifname: o.ifname, mtu: o.mtu, startMs,
    guestIp: GUEST_NET.guestIp, gateway: GUEST_NET.gateway, dns: GUEST_NET.dns,
    ...(o.hostLoopback ? { hostLoopbackAlias: GUEST_NET.gateway } : {}),
    close: () => proc.close(),
  };
}

/**
 * The keeper runs slirp4netns inside its user namespace: `--enable-sandbox`'s mount namespace is then made by a
 * less privileged user namespace than the host's, so the kernel copies the host's shared mounts as slaves and the
 * sandbox's unmount of its old root cannot propagate out (as real root, without this, it did: see below). No
 * `unshare --mount` exec: 23 → ~10 ms per start under load (session 5's measurement of the wrapper).
 */
async function startFromKeeper(launcher: OutboundLauncher, bin: string, pid: number | Promise<number>,
  o: Slirp4netnsOptions & { timeoutMs: number; signal?: AbortSignal }, t0: number): Promise<OutboundNet> {
  const args = argsFor(typeof pid === 'number' ? String(pid) : INIT_PID_ARG, o);
  log('keeper starts %s %s', bin, args.map((a) => (a === INIT_PID_ARG ? '<init pid>' : a)).join(' '));
  const started = launcher.start([bin, ...args]);
  const outcome = await raceReady(started.then(() => 'ready' as const, () => 'failed' as const), o.timeoutMs, o.signal);
  if (outcome !== 'ready') {
    if (outcome !== 'failed') await launcher.stop().catch(() => undefined);
    const err = await started.then(() => undefined, (e: unknown) => e as Error & { output?: string; waitStatus?: number });
    if (outcome === 'failed' && !(err && 'kind' in err && err.kind === 'network')) throw err;
    const output = (err?.output ?? '').split('\n').filter((l) => !l.startsWith('Failed to send')).join('\n').trim();
    // The pid as CREATE answered it (a CREATE that failed has its own error, which the boot reports instead). Not
    // awaited after a timeout or an abort: the boot being undone may be what fails a CREATE still pending.
    const known = outcome === 'failed' ? await Promise.resolve(pid).catch(() => undefined) : typeof pid === 'number' ? pid : undefined;
    const what = `configure ${o.ifname} in the namespace of ${known ? `pid ${known}` : "the container's init"}`;
    throw helperFailure('slirp4netns', outcome === 'failed' ? exitText(err?.waitStatus, err?.message) : outcome, output, { timeoutMs: o.timeoutMs, signal: o.signal, what });
  }
  const helperPid = await started;
  const startMs = performance.now() - t0;
  log('slirp4netns %d ready in %d ms (started by the keeper)', helperPid, Math.round(startMs));
  let closing: Promise<void> | undefined;
  return {
    tool: 'slirp4netns', pid: helperPid, ifname: o.ifname, mtu: o.mtu, startMs,
    guestIp: GUEST_NET.guestIp, gateway: GUEST_NET.gateway, dns: GUEST_NET.dns,
    ...(o.hostLoopback ? { hostLoopbackAlias: GUEST_NET.gateway } : {}),
    close: () => (closing ??= launcher.stop()),
  };
}

/** `code 1` / `SIGKILL` from a raw wait status (as Node names a child's exit), else the keeper's own words. */
function exitText(status: number | undefined, fallback: string | undefined): string {
  if (status === undefined) return fallback ?? 'unknown';
  if ((status & 0x7f) === 0) return `code ${(status >> 8) & 0xff}`;
  const sig = status & 0x7f;
  return Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`;
}

/** Binaries found executable (once is enough: the lookup that found the tool is once per process too). */
const executable = new Set<string>();

async function isExecutable(p: string): Promise<boolean> {
  if (executable.has(p)) return true;
  const { access, constants } = await import('node:fs/promises');
  const ok = await access(p, constants.X_OK).then(() => true, () => false);
  if (ok) executable.add(p);
  return ok;
}

/** util-linux unshare(1) (undefined when missing: slirp4netns then starts as before, and says why). */
function findUnshare(): Promise<string | undefined> {
  return findSystemTool('unshare', () => log('unshare(1) not found: slirp4netns --enable-sandbox as root may unmount host mounts below a shared mount (install util-linux)'));
}

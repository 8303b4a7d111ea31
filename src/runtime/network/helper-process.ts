import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../errors.js';
import type { Debugger } from 'debug';

const TAIL = 4096;

/** Helpers still running; killed when Node exits normally (a parent-death signal or exit fd covers being killed). */
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => { for (const c of live) c.kill('SIGKILL'); });
  }
}

/** A spawned network helper: keeps the tail of its stderr and stops it on close(). */
export class HelperProcess {
  readonly child: ChildProcess;
  private stderrTail = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private closing: Promise<void> | undefined;

  constructor(readonly name: string, bin: string, args: string[], extraFds: number, private readonly log: Debugger) {
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
    for (let i = 0; i < extraFds; i++) stdio.push('pipe');
    log('spawn %s %s', bin, args.join(' '));
    // detached (own session): a terminal's Ctrl-C must not cut a container's network while `slipway run` stops it.
    this.child = spawn(bin, args, { stdio, detached: true });
    track(this.child);
    const collect = (d: Buffer) => {
      const s = d.toString('utf8');
      this.stderrTail = (this.stderrTail + s).slice(-TAIL);
      for (const line of s.split('\n')) if (line.trim() && !line.startsWith('Failed to send')) log('%s: %s', name, line);
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => { this.exitInfo = { code, signal }; log('%s exited (%s)', name, signal ?? code); resolve(); });
      this.child.once('error', (err) => {
        this.stderrTail += `\nspawn failed: ${err.message}`;
        this.exitInfo ??= { code: null, signal: null };
        resolve();
      });
    });
  }

  /** Lets Node exit while the helper runs (it then dies through its exit fd or parent-death signal). */
  unref(): void {
    this.child.unref();
    for (const s of this.child.stdio) (s as (Readable & { unref?: () => void }) | null)?.unref?.();
  }

  get pid(): number { return this.child.pid ?? -1; }
  get hasExited(): boolean { return this.exitInfo !== undefined; }
  /** The last lines the helper printed (syslog noise removed). */
  get stderr(): string {
    return this.stderrTail.split('\n').filter((l) => !l.startsWith('Failed to send')).join('\n').trim();
  }

  /**
   * Waits until `ready` resolves, the helper exits, the timeout passes or the signal aborts; on anything but ready the
   * helper is killed and an `ERR_NETWORK` (or `ERR_ABORTED`) error with its stderr is thrown.
   */
  async waitReady(ready: Promise<void>, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<void> {
    const outcome = await raceReady(Promise.race([ready.then(() => 'ready' as const), this.exited.then(() => 'exited' as const)]), timeoutMs, signal);
    if (outcome === 'ready') return;
    await this.close();
    const exited = this.exitInfo?.signal ?? `code ${this.exitInfo?.code}`;
    throw helperFailure(this.name, outcome === 'exited' ? exited : outcome, this.stderr, { timeoutMs, signal, what });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  close(graceMs = 2000): Promise<void> {
    this.closing ??= (async () => {
      if (this.hasExited || this.child.pid === undefined) return;
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.closing;
  }
}

/**
 * The error of a helper that did not get ready: `outcome` is 'timeout', 'aborted' or how it exited (`code 1`,
 * `SIGKILL`); `stderr` its last output.
 */
export function helperFailure(name: string, outcome: string, stderr: string, o: { timeoutMs: number; signal: AbortSignal | undefined; what: string }): SlipwayError {
  const details = stderr ? `${name} said:\n${stderr}` : undefined;
  if (outcome === 'aborted') return new SlipwayError('ERR_ABORTED', `starting ${name} was aborted`, { cause: o.signal?.reason, details });
  const why = outcome === 'timeout'
    ? `${name} did not ${o.what} within ${o.timeoutMs} ms`
    : `${name} exited (${outcome}) before it could ${o.what}`;
  return new SlipwayError('ERR_NETWORK', why, {
    hint: 'check that /dev/net/tun is usable by this user (crw-rw-rw-) and that the container is still running; DEBUG=slipway:network shows the helper\'s output',
    details,
  });
}

/** Races `first` (its outcome) against a timeout and an abort signal: which came first. */
export async function raceReady<T extends string>(first: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T | 'timeout' | 'aborted'> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  return Promise.race<T | 'timeout' | 'aborted'>([
    first,
    new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); }),
    new Promise<'aborted'>((r) => {
      if (signal?.aborted) r('aborted');
      onAbort = () => r('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  ]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlipwayError, invalidArgument } from '../../errors.js';
import type { WaitStrategy, WaitTarget } from './wait-target.js';

const POLL_MS = 50;

abstract class BaseStrategy implements WaitStrategy {
  startupTimeout: number | undefined;
  withStartupTimeout(ms: number): this {
    if (!Number.isFinite(ms) || ms <= 0) throw invalidArgument('startupTimeout', ms, 'a positive number of milliseconds');
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(copy, this, { startupTimeout: ms });
    return copy;
  }
  abstract waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void>;
  abstract describe(): string;
}

/** Most of a response body a predicate is given; the rest is not read (an endless body must not fill the heap). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Thrown by a probe whose failure no retry can fix (p-retry's `AbortError`): the wait ends at once with `cause`.
 * Any other probe error counts as "not ready yet".
 */
export class ProbeFatalError extends Error {
  constructor(readonly error: unknown) {
    super((error as Error)?.message ?? String(error), { cause: error });
    this.name = 'ProbeFatalError';
  }
}

async function poll(signal: AbortSignal, target: WaitTarget | undefined, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const ok = await check().catch((e: unknown) => {
      if (e instanceof ProbeFatalError) throw e.error;
      return false;
    });
    if (ok) return;
    if (target?.hasExited()) throw exitedError(target);
    await sleep(POLL_MS, undefined, { signal });
  }
}

/**
 * Runs a probe command. A non-zero exit is "not yet"; an exec that cannot run at all (the command is missing or not
 * executable) will not run on the next try either, so it ends the wait — unless the container exited or the wait was
 * aborted, which the caller reports.
 */
async function probeExec(target: WaitTarget, argv: readonly string[], signal: AbortSignal): Promise<number | null> {
  try {
    return (await target.exec(argv, signal)).exitCode;
  } catch (err) {
    if (signal.aborted || target.hasExited() || (SlipwayError.is(err) && (err.code === 'ERR_ABORTED' || err.code === 'ERR_CONTAINER_NOT_RUNNING'))) return null;
    throw new ProbeFatalError(SlipwayError.is(err)
      ? new SlipwayError(err.code, `the wait command ${JSON.stringify(argv)} could not run: ${err.shortMessage}`, { hint: err.hint, cause: err })
      : err);
  }
}

function exitedError(target: WaitTarget): SlipwayError {
  return new SlipwayError('ERR_CONTAINER_EXITED', 'the container exited before it was ready', {
    hint: 'check the container logs below; a one-shot command needs Wait.forOneShotStartup()',
  });
}

function tcpConnect(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, signal });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Waits until every published TCP port listens inside the container and accepts a connection through its host port. */
export class HostPortWaitStrategy extends BaseStrategy {
  constructor(private readonly ports?: readonly number[]) { super(); }
  describe(): string { return `ports ${this.ports?.join(', ') ?? 'published'} listening`; }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const ports = this.ports ?? target.waitPorts.filter((p) => p.protocol === 'tcp').map((p) => p.port);
    await poll(signal, target, async () => {
      const listening = await target.listeningTcpPorts();
      if (!ports.every((p) => listening.has(p))) return false;
      for (const p of ports) {
        const hostPort = target.mappedPort(p, 'tcp');
        if (hostPort !== undefined && !(await tcpConnect(target.host, hostPort, signal))) return false;
      }
      return true;
    });
  }
}

/** Waits until a log line matches `pattern` `times` times. */
export class LogWaitStrategy extends BaseStrategy {
  constructor(private readonly pattern: RegExp | string, private readonly times = 1) {
    super();
    if (!Number.isInteger(times) || times < 1) throw invalidArgument('times', times, 'a positive integer');
  }
  describe(): string { return `log message ${String(this.pattern)}${this.times > 1 ? ` ×${this.times}` : ''}`; }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    let seen = 0;
    const matches = (line: string) => (typeof this.pattern === 'string' ? line.includes(this.pattern) : this.pattern.test(line));
    const inner = new AbortController();
    const onAbort = () => inner.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    // A stopped log stream (process exited) ends the loop; then we know it never matched.
    try {
      for await (const line of target.followLogs(inner.signal)) {
        if (matches(line) && ++seen >= this.times) return;
      }
      signal.throwIfAborted();
      throw exitedError(target);
    } finally {
      signal.removeEventListener('abort', onAbort);
      inner.abort();
    }
  }
}

export interface HttpWaitOptions { tls?: boolean; method?: string; headers?: Record<string, string>; insecure?: boolean }

/** Waits until an HTTP request through the published port answers as expected (default: status 200). */
export class HttpWaitStrategy extends BaseStrategy {
  private statusPredicate: (status: number) => boolean = (s) => s === 200;
  private bodyPredicate: ((body: string) => boolean) | undefined;
  private opts: HttpWaitOptions = {};
  constructor(private readonly path: string, private readonly port: number) { super(); }
  forStatusCode(code: number): this { return this.with({ statusPredicate: (s: number) => s === code }); }
  forStatusCodeMatching(p: (status: number) => boolean): this { return this.with({ statusPredicate: p }); }
  forResponsePredicate(p: (body: string) => boolean): this { return this.with({ bodyPredicate: p }); }
  usingTls(): this { return this.with({ opts: { ...this.opts, tls: true } }); }
  allowInsecure(): this { return this.with({ opts: { ...this.opts, insecure: true } }); }
  withMethod(method: string): this { return this.with({ opts: { ...this.opts, method } }); }
  withHeaders(headers: Record<string, string>): this { return this.with({ opts: { ...this.opts, headers } }); }
  private with(fields: Partial<Record<string, unknown>>): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    return Object.assign(copy, this, fields);
  }
  describe(): string { return `HTTP ${this.opts.method ?? 'GET'} ${this.path} on port ${this.port}`; }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const hostPort = target.mappedPort(this.port, 'tcp');
    if (hostPort === undefined) {
      throw new SlipwayError('ERR_PORT_NOT_EXPOSED', `port ${this.port} is not published`, { hint: `add .expose(${this.port})` });
    }
    await poll(signal, target, () => this.once(target.host, hostPort, signal));
  }
  private once(host: string, port: number, signal: AbortSignal): Promise<boolean> {
    const req = this.opts.tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req({ host, port, path: this.path, method: this.opts.method ?? 'GET', headers: this.opts.headers, signal, timeout: 2000, rejectUnauthorized: !this.opts.insecure }, (res) => {
        const okStatus = this.statusPredicate(res.statusCode ?? 0);
        const predicate = this.bodyPredicate;
        if (!okStatus || !predicate) {
          // The answer is in the status line: the body is never read.
          res.destroy();
          resolve(okStatus);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const judge = () => {
          if (settled) return;
          settled = true;
          res.destroy();
          try {
            resolve(predicate(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new ProbeFatalError(err));
          }
        };
        res.on('data', (c: Buffer) => {
          if (settled) return;
          const room = MAX_BODY_BYTES - size;
          chunks.push(c.length > room ? c.subarray(0, room) : c);
          size += Math.min(c.length, room);
          if (size >= MAX_BODY_BYTES) judge();
        });
        res.on('end', judge);
        res.on('error', () => { if (!settled) { settled = true; resolve(false); } });
      });
      r.on('error', () => resolve(false));
      r.on('timeout', () => { r.destroy(); resolve(false); });
      r.end();
    });
  }
}

/** Waits until a command run inside the container exits with 0. */
export class ShellWaitStrategy extends BaseStrategy {
  constructor(private readonly argv: readonly string[]) { super(); }
  describe(): string { return `command ${JSON.stringify(this.argv)} succeeding`; }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    await poll(signal, target, async () => (await probeExec(target, this.argv, signal)) === 0);
  }
}

/**
 * Runs the container's health check (the builder's `withHealthCheck`, else the image's HEALTHCHECK) until it passes,
 * at most every second. Each run is bounded by its `Timeout` (default 30 s, as Docker). When `Retries` is given, the
 * container is unhealthy (the wait fails with "Health check failed: unhealthy", as testcontainers') once that many runs
 * in a row failed after `StartPeriod` over at least `(Retries - 1) × Interval`, as Docker counts; without `Retries`
 * the wait lasts until the startup timeout.
 */
export class HealthCheckWaitStrategy extends BaseStrategy {
  describe(): string { return 'the health check passing (withHealthCheck, else the image\'s HEALTHCHECK)'; }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const hc = target.healthcheck;
    const test = hc?.Test;
    if (!hc || !test || test.length === 0 || test[0] === 'NONE') {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', 'the container has no health check (none given with withHealthCheck(), and the image has no HEALTHCHECK)', { hint: 'give one with withHealthCheck({ test: [\'CMD-SHELL\', \'…\'] }) or use another wait strategy, e.g. Wait.forListeningPorts()' });
    }
    const argv = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test[0] === 'CMD' ? test.slice(1) : test;
    const dockerIntervalMs = (hc.Interval ?? 0) / 1e6 || 30_000;
    const intervalMs = Math.max(POLL_MS, Math.min(dockerIntervalMs, 1000));
    const probeTimeoutMs = (hc.Timeout ?? 0) / 1e6 || 30_000;
    const startPeriodMs = (hc.StartPeriod ?? 0) / 1e6;
    const t0 = performance.now();
    let failures = 0;
    let failingSince = 0;
    for (;;) {
      signal.throwIfAborted();
      const probeSignal = AbortSignal.any([signal, AbortSignal.timeout(probeTimeoutMs)]);
      const code = await probeExec(target, argv, probeSignal).catch((e: unknown) => { throw e instanceof ProbeFatalError ? e.error : e; });
      if (code === 0) return;
      if (target.hasExited()) throw exitedError(target);
      signal.throwIfAborted();
      const now = performance.now();
      if (now - t0 >= startPeriodMs) {
        if (failures++ === 0) failingSince = now;
        if (hc.Retries && failures >= hc.Retries && now - failingSince >= (hc.Retries - 1) * dockerIntervalMs) {
          throw new SlipwayError('ERR_CONTAINER_START', `Health check failed: unhealthy (${failures} runs in a row of ${JSON.stringify(test)} failed)`, {
            hint: 'check the log lines below, or allow more failures with a larger retries (or startPeriod) in withHealthCheck()',
          });
        }
      }
      await sleep(intervalMs, undefined, { signal });
    }
  }
}

/** Waits until the container's process exits with code 0 (for one-shot containers). */
export class OneShotStartupWaitStrategy extends BaseStrategy {
  describe(): string { return 'the process exiting with code 0'; }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    let exit: Awaited<WaitTarget['exited']>;
    try {
      signal.throwIfAborted();
      exit = await Promise.race([target.exited, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
    if (exit.exitCode !== 0) {
      throw new SlipwayError('ERR_CONTAINER_EXITED', `the one-shot container exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.exitCode}`}`);
    }
  }
}

/** All strategies, concurrently. */
export class CompositeWaitStrategy extends BaseStrategy {
  constructor(private readonly strategies: readonly WaitStrategy[]) { super(); }
  describe(): string { return this.strategies.map((s) => s.describe()).join(' and '); }
  async waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> {
    await Promise.all(this.strategies.map((s) => s.waitUntilReady(target, signal)));
  }
}

/** Ready as soon as the process started. */
export class NoWaitStrategy extends BaseStrategy {
  describe(): string { return 'nothing'; }
  async waitUntilReady(): Promise<void> {}
}

import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlipwayError, invalidArgument } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import type { WaitStrategy, WaitTarget } from './wait-target.js';

const POLL_MS = 50;
const log = logger('wait');

/**
 * Why a wait's signal aborted when its time ran out; carries the limit for the message. Any other abort reason is the
 * caller's.
 */
export class WaitTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no success within ${ms} ms`);
    this.name = 'WaitTimeout';
  }
}

/** A signal that aborts with a {@link WaitTimeout} after `ms` (at once for 0; never for Infinity), or with `parent`. */
export function waitDeadline(ms: number, parent?: AbortSignal): { signal: AbortSignal; reason: WaitTimeout; clear(): void } {
  const ac = new AbortController();
  const reason = new WaitTimeout(ms);
  let timer: NodeJS.Timeout | undefined;
  if (ms <= 0) ac.abort(reason);
  // setTimeout cannot wait longer than 2^31-1 ms (a larger value fires at once): treat such a bound as none.
  else if (ms < 2 ** 31) {
    timer = setTimeout(() => ac.abort(reason), ms);
    timer.unref();
  }
  return { signal: parent ? AbortSignal.any([parent, ac.signal]) : ac.signal, reason, clear: () => clearTimeout(timer) };
}

/** The limit that ended a wait, when its time ran out. */
export function timedOutAfter(signal: AbortSignal): number | undefined {
  return signal.aborted && signal.reason instanceof WaitTimeout ? signal.reason.ms : undefined;
}

/** A wait that ran out of time, in testcontainers' words (suites match them), e.g. `Port 8080 not bound after 1000ms`. */
export function waitTimeoutError(message: string, ms: number): SlipwayError {
  return new SlipwayError('ERR_WAIT_TIMEOUT', message, {
    hint: 'check the log lines below, or raise the timeout with withStartupTimeout()', cause: new Error(`no success within ${ms} ms`),
  });
}

function checkTimeout(ms: number): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw invalidArgument('startupTimeout', ms, 'a number of milliseconds >= 0 (0 times out at once, Infinity never)');
  return ms;
}

/**
 * The base of slipway's strategies (testcontainers' `AbstractWaitStrategy`): a strategy bounds its own wait by its
 * startup timeout (`withStartupTimeout`, else the container's) and reports running out of time in testcontainers' words.
 * Subclasses implement {@link wait}.
 * @example
 * import { AbstractWaitStrategy, Container, type WaitTarget } from 'slipway';
 * class PortFileWritten extends AbstractWaitStrategy {
 *   describe() { return '/run/port written'; }
 *   protected async wait(target: WaitTarget, signal: AbortSignal) {
 *     while ((await target.exec(['test', '-s', '/run/port'], signal)).exitCode !== 0) await new Promise((r) => setTimeout(r, 100));
 *   }
 * }
 * new Container('my-service:1').waitFor(new PortFileWritten().withStartupTimeout(10_000));
 */
export abstract class AbstractWaitStrategy implements WaitStrategy {
  startupTimeout: number | undefined;
  /** A copy bounded by `ms` (0 times out at once). @throws SlipwayError `ERR_INVALID_ARGUMENT` for a negative or NaN value. */
  withStartupTimeout(ms: number): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(copy, this, { startupTimeout: checkTimeout(ms) });
    return copy;
  }
  /** testcontainers' `isStartupTimeoutSet()`. */
  isStartupTimeoutSet(): boolean { return this.startupTimeout !== undefined; }
  /** testcontainers' `getStartupTimeout()`: the own timeout, else testcontainers' default of 60 s. */
  getStartupTimeout(): number { return this.startupTimeout ?? 60_000; }

  /** Waits, bounded only by the strategy's own startup timeout (if set) and `signal`. */
  waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void> { return this.waitWithin(target, signal, undefined); }

  /**
   * Waits, bounded by the own startup timeout, else `defaultTimeout` (the container's). Running out of time rejects
   * with `ERR_WAIT_TIMEOUT` whose message is {@link timeoutMessage}.
   * @internal
   */
  async waitWithin(target: WaitTarget, signal: AbortSignal, defaultTimeout: number | undefined): Promise<void> {
    const ms = this.startupTimeout ?? defaultTimeout;
    const bound = ms === undefined ? undefined : waitDeadline(ms, signal);
    const s = bound?.signal ?? signal;
    try {
      // A bound of 0 has already run out: no probe runs at all.
      s.throwIfAborted();
      await this.wait(target, s);
    } catch (err) {
      const after = timedOutAfter(s);
      if (after !== undefined && !SlipwayError.is(err, 'ERR_WAIT_TIMEOUT')) throw waitTimeoutError(this.timeoutMessage(after, target), after);
      throw err;
    } finally {
      bound?.clear();
    }
  }

  /** Resolves when ready; rejects when `signal` aborts or readiness became impossible. */
  protected abstract wait(target: WaitTarget, signal: AbortSignal): Promise<void>;
  abstract describe(): string;
  /** What running out of time after `ms` reads like (testcontainers' text where it has one). */
  protected timeoutMessage(ms: number, _target?: WaitTarget): string { return `${this.describe()} not ready after ${ms}ms`; }
}

/** Runs `strategy` bounded by `defaultTimeout` unless it has its own (a foreign strategy is bounded from outside). */
export async function runStrategy(strategy: WaitStrategy, target: WaitTarget, signal: AbortSignal, defaultTimeout: number | undefined): Promise<void> {
  if (strategy instanceof AbstractWaitStrategy) return strategy.waitWithin(target, signal, defaultTimeout);
  const ms = strategy.startupTimeout ?? defaultTimeout;
  const bound = ms === undefined ? undefined : waitDeadline(ms, signal);
  const s = bound?.signal ?? signal;
  try {
    await strategy.waitUntilReady(target, s);
  } catch (err) {
    const after = timedOutAfter(s);
    if (after !== undefined && !SlipwayError.is(err, 'ERR_WAIT_TIMEOUT')) throw waitTimeoutError(`${strategy.describe()} not ready after ${after}ms`, after);
    throw err;
  } finally {
    bound?.clear();
  }
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
    if (target?.hasExited()) throw exitedError();
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

const EXIT_LOG_TAIL = 50;

/** The last `n` lines the exited container logged since its start (what is there within a second). */
async function lastLogLines(target: WaitTarget, n: number): Promise<string[]> {
  const lines: string[] = [];
  try {
    for await (const l of target.followLogs(AbortSignal.timeout(1000))) {
      // A line of up to 1 MiB (the log reader's cut) would make the error message megabytes long.
      lines.push(l.length > 4096 ? `${l.slice(0, 4096)}… (${l.length - 4096} more characters)` : l);
      if (lines.length > n) lines.shift();
    }
  } catch {
    // out of time: what was read
  }
  return lines;
}

function exitedError(message = 'the container exited before it was ready'): SlipwayError {
  return new SlipwayError('ERR_CONTAINER_EXITED', message, {
    hint: 'check the container logs below; a one-shot command needs Wait.forOneShotStartup()',
  });
}

// Not connect({ signal }): its listener on the wait's composite signal (AbortSignal.any) kept each probe's socket alive
// after the start (one Socket per start in a rootless heap snapshot); the listener here is removed as the probe ends.
function tcpConnect(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(false); return; }
    const s = connect({ host, port });
    const onAbort = (): void => { s.destroy(); resolve(false); };
    const done = (ok: boolean): void => { signal.removeEventListener('abort', onAbort); resolve(ok); };
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => { s.destroy(); done(true); });
    s.once('error', () => done(false));
  });
}

/**
 * Waits until every published TCP port listens inside the container and accepts a connection through its host port.
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('redis:7').expose(6379).waitFor(Wait.forListeningPorts(6379));
 */
export class HostPortWaitStrategy extends AbstractWaitStrategy {
  constructor(private readonly ports?: readonly number[]) { super(); }
  describe(): string { return `ports ${this.ports?.join(', ') ?? 'published'} listening`; }
  #ports(target: WaitTarget): number[] { return [...(this.ports ?? target.waitPorts.filter((p) => p.protocol === 'tcp').map((p) => p.port))]; }
  /** Also when the bound was spent before any probe (`withStartupTimeout(0)`): `Port 8080 not bound after 0ms`. */
  protected override timeoutMessage(ms: number, target?: WaitTarget): string {
    const first = target ? this.#ports(target)[0] : this.ports?.[0];
    return first === undefined ? super.timeoutMessage(ms) : `Port ${first} not bound after ${ms}ms`;
  }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const ports = this.#ports(target);
    let pending = ports[0];
    try {
      await poll(signal, target, async () => {
        const listening = await target.listeningTcpPorts();
        pending = ports.find((p) => !listening.has(p));
        if (pending !== undefined) return false;
        for (const p of ports) {
          const hostPort = target.mappedPort(p, 'tcp');
          pending = p;
          if (hostPort !== undefined && !(await tcpConnect(target.host, hostPort, signal))) return false;
        }
        return true;
      });
    } catch (err) {
      const ms = timedOutAfter(signal);
      if (ms !== undefined) throw waitTimeoutError(`Port ${pending} not bound after ${ms}ms`, ms);
      throw err;
    }
  }
}

/**
 * Waits until a log line matches `pattern` `times` times (lines written since the start, or since a restart).
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('postgres:16').waitFor(Wait.forLogMessage(/ready to accept connections/, 2));
 */
export class LogWaitStrategy extends AbstractWaitStrategy {
  constructor(private readonly pattern: RegExp | string, private readonly times = 1) {
    super();
    if (!Number.isInteger(times) || times < 1) throw invalidArgument('times', times, 'a positive integer');
  }
  describe(): string { return `log message ${String(this.pattern)}${this.times > 1 ? ` ×${this.times}` : ''}`; }
  protected override timeoutMessage(ms: number): string { return `Log message "${String(this.pattern)}" not received after ${ms}ms`; }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
    let seen = 0;
    const matches = (line: string) => {
      if (typeof this.pattern === 'string') return line.includes(this.pattern);
      // A global or sticky RegExp keeps lastIndex between test() calls: every line starts from 0.
      this.pattern.lastIndex = 0;
      return this.pattern.test(line);
    };
    const inner = new AbortController();
    const onAbort = () => inner.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    // A stopped log stream (process exited) ends the loop; then we know it never matched.
    try {
      for await (const line of target.followLogs(inner.signal)) {
        if (matches(line) && ++seen >= this.times) return;
      }
      signal.throwIfAborted();
      throw exitedError(`Log stream ended and message "${String(this.pattern)}" was not received (the container exited)`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      inner.abort();
    }
  }
}

export interface HttpWaitOptions {
  tls?: boolean; method?: string; headers?: Record<string, string>; insecure?: boolean;
  /** Most ms one request may take (testcontainers' `withReadTimeout`). @defaultValue 1000 */
  readTimeout?: number;
}

/**
 * testcontainers' `HttpWaitStrategyOptions`.
 * @example
 * import { GenericContainer, Wait } from 'slipway/testcontainers';
 * new GenericContainer('my-service:1').withExposedPorts(8080)
 *   .withWaitStrategy(Wait.forHttp('/health', 8080, { abortOnContainerExit: true }));
 */
export interface HttpWaitStrategyOptions {
  /**
   * Accepted for testcontainers: slipway ends every wait as soon as the container exits; with this set, the error says
   * `Container exited during HTTP healthCheck, last 50 logs: …` (its last 50 log lines) as testcontainers' does.
   * @defaultValue false
   */
  abortOnContainerExit?: boolean;
}

/**
 * Waits until an HTTP request through the published port answers as expected: by default a 2xx status (as
 * testcontainers' `response.ok`); every `forStatusCode*`/`forResponsePredicate` given must hold.
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('my-service:1').expose(8443)
 *   .waitFor(Wait.forHttp('/health', 8443).usingTls().allowInsecure().forStatusCode(200).forResponsePredicate((b) => b.includes('"up"')));
 */
export class HttpWaitStrategy extends AbstractWaitStrategy {
  private statusPredicate: ((status: number) => boolean) | undefined;
  private bodyPredicate: ((body: string) => boolean) | undefined;
  private opts: HttpWaitOptions = {};
  constructor(private readonly path: string, private readonly port: number, private readonly options: HttpWaitStrategyOptions = {}) { super(); }
  /** The status must be `code` (together with any earlier status predicate). */
  forStatusCode(code: number): this { return this.andStatus((s) => s === code); }
  /** The status must satisfy `p` (together with any earlier status predicate). */
  forStatusCodeMatching(p: (status: number) => boolean): this { return this.andStatus(p); }
  /** The body (at most 1 MiB, as UTF-8) must satisfy `p`; a predicate that throws ends the wait. */
  forResponsePredicate(p: (body: string) => boolean): this {
    const prev = this.bodyPredicate;
    return this.with({ bodyPredicate: prev ? (b: string) => prev(b) && p(b) : p });
  }
  usingTls(): this { return this.with({ opts: { ...this.opts, tls: true } }); }
  /** Accept a self-signed or otherwise unverifiable certificate (with {@link usingTls}). */
  allowInsecure(): this { return this.with({ opts: { ...this.opts, insecure: true } }); }
  withMethod(method: string): this { return this.with({ opts: { ...this.opts, method } }); }
  /** Adds request headers (merged with earlier ones). */
  withHeaders(headers: Record<string, string>): this { return this.with({ opts: { ...this.opts, headers: { ...this.opts.headers, ...headers } } }); }
  /** Sends `Authorization: Basic …` for `username:password`. */
  withBasicCredentials(username: string, password: string): this {
    return this.withHeaders({ Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` });
  }
  /** Most ms one request may take before it counts as a failed try. @defaultValue 1000 */
  withReadTimeout(ms: number): this {
    if (typeof ms !== 'number' || !(ms > 0)) throw invalidArgument('readTimeout', ms, 'a positive number of milliseconds');
    return this.with({ opts: { ...this.opts, readTimeout: ms } });
  }
  private andStatus(p: (status: number) => boolean): this {
    const prev = this.statusPredicate;
    return this.with({ statusPredicate: prev ? (s: number) => prev(s) && p(s) : p });
  }
  private with(fields: Partial<Record<string, unknown>>): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    return Object.assign(copy, this, fields);
  }
  describe(): string { return `HTTP ${this.opts.method ?? 'GET'} ${this.path} on port ${this.port}`; }
  protected override timeoutMessage(ms: number): string { return `URL ${this.path} not accessible after ${ms}ms`; }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const hostPort = target.mappedPort(this.port, 'tcp');
    if (hostPort === undefined) {
      throw new SlipwayError('ERR_PORT_NOT_EXPOSED', `port ${this.port} is not published`, { hint: `publish it: .expose(${this.port}) on a Container, .withExposedPorts(${this.port}) on a testcontainers GenericContainer` });
    }
    try {
      await poll(signal, target, () => this.once(target.host, hostPort, signal));
    } catch (err) {
      if (this.options.abortOnContainerExit && SlipwayError.is(err, 'ERR_CONTAINER_EXITED')) {
        // testcontainers' words, which suites match: `…, last 50 logs: <line>\n<line>…`.
        throw exitedError(`Container exited during HTTP healthCheck, last ${EXIT_LOG_TAIL} logs: ${(await lastLogLines(target, EXIT_LOG_TAIL)).join('\n')}`);
      }
      throw err;
    }
  }
  private once(host: string, port: number, signal: AbortSignal): Promise<boolean> {
    const req = this.opts.tls ? httpsRequest : httpRequest;
    const statusOk = this.statusPredicate ?? ((s: number) => s >= 200 && s < 300);
    return new Promise((resolve, reject) => {
      const r = req({ host, port, path: this.path, method: this.opts.method ?? 'GET', headers: this.opts.headers, signal, timeout: this.opts.readTimeout ?? 1000, rejectUnauthorized: !this.opts.insecure }, (res) => {
        let okStatus: boolean;
        try {
          okStatus = statusOk(res.statusCode ?? 0);
        } catch (err) {
          res.destroy();
          reject(new ProbeFatalError(err));
          return;
        }
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

/**
 * Waits until a command run inside the container exits with 0.
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('postgres:16').waitFor(Wait.forSuccessfulCommand('pg_isready -h 127.0.0.1'));
 */
export class ShellWaitStrategy extends AbstractWaitStrategy {
  /** `argv`; a string command (testcontainers' form) runs as `/bin/sh -c command`. */
  constructor(private readonly argv: readonly string[]) { super(); }
  describe(): string { return `command ${JSON.stringify(this.argv)} succeeding`; }
  protected override timeoutMessage(ms: number): string {
    const shown = this.argv.length === 3 && this.argv[0] === '/bin/sh' && this.argv[1] === '-c' ? this.argv[2] : this.argv.join(' ');
    return `Shell command "${shown}" not successful after ${ms}ms`;
  }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
    await poll(signal, target, async () => (await probeExec(target, this.argv, signal)) === 0);
  }
}

/**
 * Runs the container's health check (the builder's `withHealthCheck`, else the image's HEALTHCHECK) until it passes.
 * The first run is at once (Docker runs it after one interval: the container is healthy as soon as the check would pass,
 * not at the next tick); later runs follow the declared `StartInterval` during `StartPeriod` and `Interval` after it,
 * as Docker schedules them, but at most a second apart (Docker's default interval is 30 s) and at least 50 ms. Each run
 * is bounded by its `Timeout` (default 30 s, as Docker). When `Retries` is given, the container is unhealthy (the wait
 * fails with "Health check failed: unhealthy", as testcontainers') once that many runs in a row failed after
 * `StartPeriod` over at least `(Retries - 1) × Interval`, as Docker counts; without `Retries` the wait lasts until the
 * startup timeout. `DEBUG=slipway:wait` logs each run's exit code and time.
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('redis:7')
 *   .withHealthCheck({ test: ['CMD', 'redis-cli', 'ping'], interval: 500 })
 *   .waitFor(Wait.forHealthCheck());
 */
export class HealthCheckWaitStrategy extends AbstractWaitStrategy {
  describe(): string { return 'the health check passing (withHealthCheck, else the image\'s HEALTHCHECK)'; }
  protected override timeoutMessage(ms: number): string { return `Health check not healthy after ${ms}ms`; }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const hc = target.healthcheck;
    const test = hc?.Test;
    if (!hc || !test || test.length === 0 || test[0] === 'NONE') {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', 'the container has no health check (none given with withHealthCheck(), and the image has no HEALTHCHECK)', { hint: 'give one with withHealthCheck({ test: [\'CMD-SHELL\', \'…\'] }) or use another wait strategy, e.g. Wait.forListeningPorts()' });
    }
    const argv = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test[0] === 'CMD' ? test.slice(1) : test;
    const dockerIntervalMs = (hc.Interval ?? 0) / 1e6 || 30_000;
    const intervalMs = healthInterval(dockerIntervalMs);
    const startIntervalMs = hc.StartInterval ? healthInterval(hc.StartInterval / 1e6) : intervalMs;
    const probeTimeoutMs = healthTimeout(hc.Timeout);
    const startPeriodMs = (hc.StartPeriod ?? 0) / 1e6;
    const t0 = performance.now();
    let failures = 0;
    let failingSince = 0;
    for (let run = 1; ; run++) {
      signal.throwIfAborted();
      const probeSignal = AbortSignal.any([signal, AbortSignal.timeout(probeTimeoutMs)]);
      const tRun = performance.now();
      const code = await probeExec(target, argv, probeSignal).catch((e: unknown) => { throw e instanceof ProbeFatalError ? e.error : e; });
      const now = performance.now();
      log('%s health check run %d at %d ms: exit %s in %d ms', target.id ?? '', run, Math.round(tRun - t0), code, Math.round(now - tRun));
      if (code === 0) return;
      if (target.hasExited()) throw exitedError();
      signal.throwIfAborted();
      const starting = now - t0 < startPeriodMs;
      if (!starting) {
        if (failures++ === 0) failingSince = now;
        if (hc.Retries && failures >= hc.Retries && now - failingSince >= (hc.Retries - 1) * dockerIntervalMs) {
          throw new SlipwayError('ERR_CONTAINER_START', `Health check failed: unhealthy (${failures} runs in a row of ${JSON.stringify(test)} failed)`, {
            hint: 'check the log lines below, or allow more failures with a larger retries (or startPeriod) in withHealthCheck()',
          });
        }
      }
      await sleep(starting ? startIntervalMs : intervalMs, undefined, { signal });
    }
  }
}

/**
 * A declared probe timeout (ns, from the image or withHealthCheck) as a timer takes it: whole milliseconds from 1 to
 * 2^31 - 1 (AbortSignal.timeout throws a RangeError on anything else: 1.5 ms, a negative or a huge value an image
 * may carry); 0, a negative or a value that is not a number is Docker's default of 30 s.
 */
function healthTimeout(ns: number | undefined): number {
  const ms = typeof ns === 'number' && ns > 0 ? ns / 1e6 : 30_000;
  return Math.min(Math.max(1, Math.ceil(ms)), 2 ** 31 - 1);
}

/** A declared health check interval as slipway polls it: at least {@link POLL_MS}, at most a second. */
function healthInterval(ms: number): number {
  return Math.max(POLL_MS, Math.min(ms, 1000));
}

/**
 * Waits until the container's process exits with code 0 (for one-shot containers).
 * @example
 * import { Container, Wait } from 'slipway';
 * await using migrate = await new Container('my-app:1').withCommand(['./migrate']).waitFor(Wait.forOneShotStartup()).start();
 */
export class OneShotStartupWaitStrategy extends AbstractWaitStrategy {
  describe(): string { return 'the process exiting with code 0'; }
  protected override timeoutMessage(ms: number): string { return `Container not accessible after ${ms}ms`; }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
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
      // testcontainers' words (suites match them), then what slipway knows.
      throw new SlipwayError('ERR_CONTAINER_EXITED', `Container failed to start for ${target.id ?? ''}: the one-shot process exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.exitCode}`}`, {
        hint: 'check the container logs below',
      });
    }
  }
}

/**
 * All strategies, concurrently. Each child keeps its own startup timeout; this one's (`withStartupTimeout`, else the
 * container's) applies to children without one, as in testcontainers. `withDeadline(ms)` caps the whole wait.
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('my-service:1').expose(8080)
 *   .waitFor(Wait.forAll([Wait.forLogMessage('started'), Wait.forHttp('/health', 8080)]).withDeadline(60_000));
 */
export class CompositeWaitStrategy extends AbstractWaitStrategy {
  private deadline: number | undefined;
  constructor(private readonly strategies: readonly WaitStrategy[]) { super(); }
  /** Fails the whole wait after `ms`: `Composite wait strategy not successful after <ms>ms`. */
  withDeadline(ms: number): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    return Object.assign(copy, this, { deadline: checkTimeout(ms) });
  }
  describe(): string { return this.strategies.map((s) => s.describe()).join(' and '); }
  protected async wait(): Promise<void> { /* waitWithin is overridden */ }
  /** @internal Children get this strategy's timeout (or the container's) when they have none of their own. */
  override async waitWithin(target: WaitTarget, signal: AbortSignal, defaultTimeout: number | undefined): Promise<void> {
    const childDefault = this.startupTimeout ?? defaultTimeout;
    const cap = this.deadline === undefined ? undefined : waitDeadline(this.deadline, signal);
    // The first child to fail ends the others' waits too.
    const siblings = new AbortController();
    const s = AbortSignal.any([cap?.signal ?? signal, siblings.signal]);
    try {
      await Promise.all(this.strategies.map((c) => runStrategy(c, target, s, childDefault).catch((err: unknown) => {
        siblings.abort(err);
        throw err;
      })));
    } catch (err) {
      if (cap?.signal.aborted && cap.signal.reason === cap.reason) throw waitTimeoutError(`Composite wait strategy not successful after ${cap.reason.ms}ms`, cap.reason.ms);
      throw err;
    } finally {
      cap?.clear();
    }
  }
}

/**
 * Ready as soon as the process started.
 * @example
 * import { Container, Wait } from 'slipway';
 * await using c = await new Container('busybox').withCommand(['sleep', 'infinity']).waitFor(Wait.none()).start();
 */
export class NoWaitStrategy extends AbstractWaitStrategy {
  describe(): string { return 'nothing'; }
  protected async wait(): Promise<void> {}

  /**
   * Nothing to wait for: done at once unless the bound has run out already (0) or the signal aborted, which fail as
   * for any strategy. Skips the deadline (an abort controller, a timer, a timeout error with its stack) that every
   * `run()` paid for nothing. A subclass with a `wait()` of its own waits as usual.
   * @internal
   */
  override waitWithin(target: WaitTarget, signal: AbortSignal, defaultTimeout: number | undefined): Promise<void> {
    const ms = this.startupTimeout ?? defaultTimeout;
    if (this.wait === NoWaitStrategy.prototype.wait && (ms === undefined || ms > 0) && !signal.aborted) return Promise.resolve();
    return super.waitWithin(target, signal, defaultTimeout);
  }
}

/**
 * What {@link StartupCheckStrategy.checkStartupState} returns.
 * @example
 * import { StartupCheckStrategy, type StartupCheckContainer, type StartupStatus } from 'slipway';
 * class Exited extends StartupCheckStrategy {
 *   async checkStartupState(c: StartupCheckContainer): Promise<StartupStatus> {
 *     return (await c.inspect()).State.Running ? 'PENDING' : 'SUCCESS';
 *   }
 * }
 */
export type StartupStatus = 'PENDING' | 'SUCCESS' | 'FAIL';

/**
 * What a {@link StartupCheckStrategy} is given in place of testcontainers' dockerode client (slipway has no Docker):
 * the container's id and an `inspect()` shaped like the few fields of Docker's inspect result a check reads.
 * @example
 * import { StartupCheckStrategy, type StartupCheckContainer } from 'slipway';
 * class ExitedCleanly extends StartupCheckStrategy {
 *   async checkStartupState(container: StartupCheckContainer) {
 *     const { State } = await container.inspect();
 *     return State.Running ? 'PENDING' : State.ExitCode === 0 ? 'SUCCESS' : 'FAIL';
 *   }
 * }
 */
export interface StartupCheckContainer {
  readonly id: string;
  inspect(): Promise<{ Id: string; State: { Status: 'running' | 'exited'; Running: boolean; ExitCode: number | null } }>;
}

/**
 * testcontainers' `StartupCheckStrategy`: subclass it and implement {@link checkStartupState}; it is asked every 500 ms
 * until it answers `SUCCESS` (ready) or `FAIL` (`Container failed to start for <id>`).
 * @example
 * import { GenericContainer, StartupCheckStrategy, type StartupCheckContainer } from 'slipway/testcontainers';
 * class ExitedCleanly extends StartupCheckStrategy {
 *   async checkStartupState(container: StartupCheckContainer) {
 *     const { State } = await container.inspect();
 *     return State.Running ? 'PENDING' : State.ExitCode === 0 ? 'SUCCESS' : 'FAIL';
 *   }
 * }
 * await new GenericContainer('busybox').withCommand(['true']).withWaitStrategy(new ExitedCleanly()).start();
 */
export abstract class StartupCheckStrategy extends AbstractWaitStrategy {
  /**
   * @param container - the container (testcontainers passes a dockerode client here; its `inspect()` answers the
   *   fields above)
   * @param containerId - the container's id, as testcontainers passes it
   */
  abstract checkStartupState(container: StartupCheckContainer, containerId: string): Promise<StartupStatus>;
  describe(): string { return 'the startup check succeeding'; }
  protected override timeoutMessage(ms: number): string { return `Container not accessible after ${ms}ms`; }
  protected async wait(target: WaitTarget, signal: AbortSignal): Promise<void> {
    const id = target.id ?? '';
    const container: StartupCheckContainer = {
      id,
      inspect: async () => {
        const running = !target.hasExited();
        const exit = running ? undefined : await target.exited;
        return { Id: id, State: { Status: running ? 'running' : 'exited', Running: running, ExitCode: exit ? exit.exitCode : null } };
      },
    };
    for (;;) {
      signal.throwIfAborted();
      const status = await this.checkStartupState(container, id);
      if (status === 'SUCCESS') return;
      if (status === 'FAIL') throw new SlipwayError('ERR_CONTAINER_START', `Container failed to start for ${id}`, { hint: 'the startup check answered FAIL' });
      await sleep(500, undefined, { signal });
    }
  }
}

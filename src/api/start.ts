import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { configValue, withSettings } from '../config/index.js';
import { launchContainer, readLogLines, reuseContainer, runtimeBackend, type RuntimeContainer } from '../runtime/index.js';
import type { ContainerOptions } from './container-options.js';
import { StartedContainer } from './started-container.js';
import { makeSnapshot, planSnapshot } from './snapshot.js';
import { isModuleDefaultSnapshot, type SnapshotOptions } from './snapshot-options.js';
import { HealthCheckWaitStrategy, HostPortWaitStrategy, NoWaitStrategy, runStrategy, type WaitStrategy, type WaitTarget } from './wait/index.js';
import { sinceNextMillisecond } from './log-since.js';

const log = logger('start');
const LAST_LOG_LINES = 30;
const LAST_LOG_LINE_CHARS = 4096;

/** The address published ports are reached on: SLIPWAY_HOST, else the runtime's (an engine's host), else 127.0.0.1. */
export function clientHost(rt?: { clientHost?: string | undefined }): string { return process.env.SLIPWAY_HOST || rt?.clientHost || '127.0.0.1'; }

/**
 * Starts a container from frozen options and waits until it is ready; on failure removes it and rethrows. The settings
 * are read once for the whole start (every layer below asks `loadConfig`, which answers from this start's reading).
 */
export function startContainer(options: ContainerOptions, signal?: AbortSignal, onLaunched?: (c: StartedContainer) => void | Promise<void>): Promise<StartedContainer> {
  return withSettings(() => startWithSettings(options, signal, onLaunched));
}

async function startWithSettings(options: ContainerOptions, signal?: AbortSignal, onLaunched?: (c: StartedContainer) => void | Promise<void>): Promise<StartedContainer> {
  const t0 = performance.now();
  // A container kept for reuse across runs is already warm: withSnapshot() does not apply to it.
  const reuse = reuses(options);
  const snap = options.snapshot && !reuse && await snapshotApplies(options.snapshot) ? await planSnapshot(options, signal) : undefined;
  try {
    const fromSnapshot = snap?.record && snap.snapshots.layerDir(snap.record);
    const tPlan = performance.now();
    // The boot is bounded by the startup timeout too (the wait below gets its own): a stuck step never hangs a test run.
    const bounded = { ...options, bootTimeout: options.bootTimeout ?? options.startupTimeout };
    const plan = fromSnapshot ? { ...bounded, snapshotLayer: fromSnapshot } : snap ? { ...bounded, upperParent: snap.upperParent } : bounded;
    const reused = reuse ? await reuseContainer(plan, { idleTimeoutMs: configValue('reuseIdleTimeout'), signal }) : undefined;
    const declined = reused && 'type' in reused && reused.type === 'declined' ? reused : undefined;
    if (declined) warnOnce(`slipway: withReuse(): the running reuse keeper declined (${declined.reason}); starting ${options.image} without reuse until it exits (its idle timeout)`);
    const rt = reused && !declined ? reused as RuntimeContainer : await launchContainer(plan, signal, snap?.image);
    if (snap) log('%s snapshot plan %d ms, launch %d ms', rt.name, Math.round(tPlan - t0), Math.round(performance.now() - tPlan));
    const strategy = (options.waitStrategy as WaitStrategy | undefined) ?? defaultStrategy(rt, options);
    const snapshotStrategy = (options.snapshot && options.snapshot.waitStrategy) || strategy;
    const host = clientHost(rt);
    const ready = (s: WaitStrategy, since: Date | undefined, sig?: AbortSignal) => waitReady(rt, options, s, host, since, sig);
    const current = fromSnapshot ? { current: { key: snap.key, created: false, layerDir: fromSnapshot } } : snap ? {} : undefined;
    const started = new StartedContainer(rt, { host, options, ready: (since) => ready(snap ? snapshotStrategy : strategy, since), snapshot: current });
    try {
      await onLaunched?.(started);
      await ready(fromSnapshot ? snapshotStrategy : strategy, undefined, signal);
      if (snap && !fromSnapshot) {
        // First start of this key: quiesce, store the snapshot, and start again from it (same ports).
        const t1 = performance.now();
        const record = await makeSnapshot(started, rt, options, snap, signal);
        const layerDir = snap.snapshots.layerDir(record);
        const since = sinceNextMillisecond();
        await rt.rebootFrom(layerDir, options.stopTimeout);
        current!.current = { key: snap.key, created: true, layerDir };
        await ready(snapshotStrategy, since, signal);
        log('%s snapshot %s made and started from in %d ms', rt.name, snap.key.slice(7, 19), Math.round(performance.now() - t1));
      }
    } catch (err) {
      await started.remove().catch((e) => log('remove after failed wait: %O', e));
      throw err;
    }
    log('%s ready in %d ms', rt.name, Math.round(performance.now() - t0));
    return started;
  } finally {
    snap?.lock?.release();
  }
}

/** A module's default snapshot needs the native runtime (layers in slipway's store); elsewhere the module starts as usual. */
async function snapshotApplies(opts: SnapshotOptions): Promise<boolean> {
  if (!isModuleDefaultSnapshot(opts) || (await runtimeBackend()).kind === 'native') return true;
  log('the module\'s default snapshot needs the native runtime: starting without it');
  return false;
}

const warned = new Set<string>();
function warnOnce(text: string): void {
  if (warned.has(text)) return;
  warned.add(text);
  process.emitWarning(text);
}

/**
 * Whether this start reuses: `withReuse()` and the `reuse` setting on (natively through the reuse keeper, on an engine
 * by the reuse key label, as testcontainers).
 */
function reuses(options: ContainerOptions): boolean {
  return options.reuse === true && configValue('reuse');
}

/**
 * Runs the wait strategy (its own startup timeout, else the container's) on logs since `since`. Errors carry the
 * container's last log lines; a timeout says which condition was not met in testcontainers' words.
 */
async function waitReady(rt: RuntimeContainer, options: ContainerOptions, strategy: WaitStrategy, host: string, since: Date | undefined, signal?: AbortSignal): Promise<void> {
  const never = new AbortController();
  try {
    await runStrategy(strategy, waitTarget(rt, host, options, since), signal ?? never.signal, options.startupTimeout ?? configValue('startupTimeout'));
  } catch (err) {
    const tail = await lastLogLines(rt.logPath);
    if (signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'start was aborted', { cause: plainCause(signal.reason, 'aborted by the caller'), details: tail });
    if (SlipwayError.is(err, 'ERR_WAIT_TIMEOUT')) {
      throw new SlipwayError('ERR_WAIT_TIMEOUT', `container ${rt.name} (${options.image}) was not ready: ${err.shortMessage}`, {
        hint: err.hint, details: `waited for ${strategy.describe()}\n${tail}`, cause: err.cause,
      });
    }
    if (SlipwayError.is(err, 'ERR_CONTAINER_EXITED') && rt.hasExited()) {
      // Users look for the exit code first (a crash, a missing config, `exit 1` of an entrypoint script).
      const how = describeExit(await rt.exited());
      const message = err.shortMessage.includes(how) ? err.shortMessage : `${err.shortMessage} (${how})`;
      throw new SlipwayError(err.code, message, { hint: err.hint, cause: err, details: tail });
    }
    if (SlipwayError.is(err)) throw new SlipwayError(err.code, err.shortMessage, { hint: err.hint, cause: err, details: tail });
    throw err;
  }
}

/** `exit code 3`, `killed by SIGKILL`, `killed by SIGKILL: out of memory`. */
function describeExit(exit: { exitCode: number | null; signal: string | null; oomKilled: boolean }): string {
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.exitCode}`;
  return exit.oomKilled ? `${how}: out of memory` : how;
}

/** The builder's health check (`Container.withHealthCheck`), else the image's HEALTHCHECK. */
function healthcheckOf(rt: RuntimeContainer, options: ContainerOptions): WaitTarget['healthcheck'] {
  return options.healthcheck ?? rt.imageHealthcheck;
}

/**
 * As testcontainers v12 does: the builder's health check, else the image's HEALTHCHECK (unless `NONE`), else published
 * TCP ports listening, else nothing.
 */
function defaultStrategy(rt: RuntimeContainer, options: ContainerOptions): WaitStrategy {
  const test = healthcheckOf(rt, options)?.Test;
  if (test && test.length > 0 && test[0] !== 'NONE') return new HealthCheckWaitStrategy();
  return options.ports.some((p) => p.protocol === 'tcp') ? new HostPortWaitStrategy() : new NoWaitStrategy();
}

function waitTarget(rt: RuntimeContainer, host: string, options: ContainerOptions, since: Date | undefined): WaitTarget {
  return {
    id: rt.id,
    host,
    mappedPort: (port, protocol = 'tcp') => rt.hostPorts.get(`${port}/${protocol}`),
    waitPorts: options.ports.map((p) => ({ port: p.container, protocol: p.protocol })),
    listeningTcpPorts: () => rt.listeningTcpPorts(),
    async *followLogs(signal) {
      for await (const l of readLogLines(rt.logPath, { follow: true, since, signal, done: () => rt.hasExited() })) yield l.text;
    },
    exec: (argv, signal) => rt.exec(argv, { signal }),
    exited: rt.exited(),
    hasExited: () => rt.hasExited(),
    healthcheck: healthcheckOf(rt, options),
  };
}

/**
 * The deadline's own reason is a DOMException (TimeoutError/AbortError), which some error printers (vitest's) cannot
 * render as a cause: hand on a plain Error saying the same.
 */
function plainCause(err: unknown, what: string): Error {
  if (err instanceof Error && !(err instanceof DOMException) && err.name !== 'AbortError' && err.name !== 'TimeoutError') return err;
  return new Error(`${what} (${(err as Error | undefined)?.name ?? 'aborted'})`);
}

async function lastLogLines(path: string): Promise<string> {
  const lines: string[] = [];
  try {
    for await (const l of readLogLines(path)) {
      // A line of megabytes (a container printing without newlines) would make the error message that big.
      const text = l.text.length > LAST_LOG_LINE_CHARS ? `${l.text.slice(0, LAST_LOG_LINE_CHARS)}… (${l.text.length - LAST_LOG_LINE_CHARS} more characters)` : l.text;
      lines.push(`  ${l.stream === 'stderr' ? '!' : '|'} ${text}`);
      if (lines.length > LAST_LOG_LINES) lines.shift();
    }
  } catch { /* no logs */ }
  return lines.length ? `last log lines:\n${lines.join('\n')}` : '(the container wrote no log lines)';
}

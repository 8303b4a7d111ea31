import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { launchContainer, readLogLines, type RuntimeContainer } from '../runtime/index.js';
import type { ContainerOptions } from './container-options.js';
import { StartedContainer } from './started-container.js';
import { HealthCheckWaitStrategy, HostPortWaitStrategy, NoWaitStrategy, type WaitStrategy, type WaitTarget } from './wait/index.js';

const log = logger('start');
const LAST_LOG_LINES = 30;

/** The address published ports are reached on. Override with SLIPWAY_HOST. */
export function clientHost(): string { return process.env.SLIPWAY_HOST || '127.0.0.1'; }

/** Starts a container from frozen options and waits until it is ready; on failure removes it and rethrows. */
export async function startContainer(options: ContainerOptions, signal?: AbortSignal): Promise<StartedContainer> {
  const t0 = performance.now();
  const rt = await launchContainer(options, signal);
  const started = new StartedContainer(rt, clientHost(), options.stopTimeout);
  const strategy = (options.waitStrategy as WaitStrategy | undefined) ?? defaultStrategy(rt, options);
  const timeout = strategy.startupTimeout ?? options.startupTimeout;
  const deadline = AbortSignal.timeout(timeout);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  try {
    await strategy.waitUntilReady(waitTarget(rt, clientHost(), options), combined);
  } catch (err) {
    const tail = await lastLogLines(rt.logPath);
    await started.remove().catch((e) => log('remove after failed wait: %O', e));
    if (signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'start was aborted', { cause: plainCause(signal.reason, 'aborted by the caller'), details: tail });
    if (deadline.aborted) {
      throw new SlipwayError('ERR_WAIT_TIMEOUT', `container ${rt.name} (${options.image}) was not ready after ${timeout} ms: waited for ${strategy.describe()}`, {
        hint: 'check the log lines below, or raise the timeout with withStartupTimeout()', details: tail, cause: plainCause(err, `no success within ${timeout} ms`),
      });
    }
    if (SlipwayError.is(err)) throw new SlipwayError(err.code, err.shortMessage, { hint: err.hint, cause: err, details: tail });
    throw err;
  }
  log('%s ready in %d ms', rt.name, Math.round(performance.now() - t0));
  return started;
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

function waitTarget(rt: RuntimeContainer, host: string, options: ContainerOptions): WaitTarget {
  return {
    host,
    mappedPort: (port, protocol = 'tcp') => rt.hostPorts.get(`${port}/${protocol}`),
    waitPorts: options.ports.map((p) => ({ port: p.container, protocol: p.protocol })),
    listeningTcpPorts: () => rt.listeningTcpPorts(),
    async *followLogs(signal) {
      for await (const l of readLogLines(rt.logPath, { follow: true, signal, done: () => rt.hasExited() })) yield l.text;
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
      lines.push(`  ${l.stream === 'stderr' ? '!' : '|'} ${l.text}`);
      if (lines.length > LAST_LOG_LINES) lines.shift();
    }
  } catch { /* no logs */ }
  return lines.length ? `last log lines:\n${lines.join('\n')}` : '(the container wrote no log lines)';
}

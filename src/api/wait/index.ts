import {
  CompositeWaitStrategy, HealthCheckWaitStrategy, HostPortWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
  NoWaitStrategy, OneShotStartupWaitStrategy, ShellWaitStrategy,
} from './strategies.js';
import type { WaitStrategy } from './wait-target.js';

export type { WaitStrategy, WaitTarget } from './wait-target.js';
export {
  CompositeWaitStrategy, HealthCheckWaitStrategy, HostPortWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
  NoWaitStrategy, OneShotStartupWaitStrategy, ShellWaitStrategy,
};

/**
 * Readiness conditions for {@link Container.waitFor}, named as in testcontainers.
 * @example new Container('postgres:16').waitFor(Wait.forLogMessage(/ready to accept connections/, 2))
 */
export const Wait = {
  /** Published TCP ports listen inside the container and accept connections (the default when ports are published). */
  forListeningPorts: (...ports: number[]) => new HostPortWaitStrategy(ports.length ? ports : undefined),
  /** A log line matches `pattern`, `times` times. */
  forLogMessage: (pattern: RegExp | string, times = 1) => new LogWaitStrategy(pattern, times),
  /** An HTTP request to `path` on container `port` (published) answers 200, or as configured. */
  forHttp: (path: string, port: number) => new HttpWaitStrategy(path, port),
  /** A command run inside the container exits with 0. */
  forSuccessfulCommand: (command: string | readonly string[]) =>
    new ShellWaitStrategy(typeof command === 'string' ? ['/bin/sh', '-c', command] : command),
  /** The container's health check passes: the builder's `withHealthCheck`, else the image's HEALTHCHECK. */
  forHealthCheck: () => new HealthCheckWaitStrategy(),
  /** The process exits with code 0. */
  forOneShotStartup: () => new OneShotStartupWaitStrategy(),
  /** Every strategy is satisfied. */
  forAll: (strategies: readonly WaitStrategy[]) => new CompositeWaitStrategy(strategies),
  /** Do not wait. */
  none: () => new NoWaitStrategy(),
};

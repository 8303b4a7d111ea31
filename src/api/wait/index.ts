import {
  AbstractWaitStrategy, CompositeWaitStrategy, HealthCheckWaitStrategy, HostPortWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
  NoWaitStrategy, OneShotStartupWaitStrategy, ShellWaitStrategy, StartupCheckStrategy, type HttpWaitStrategyOptions,
} from './strategies.js';
import type { WaitStrategy } from './wait-target.js';

export type { WaitStrategy, WaitTarget } from './wait-target.js';
export {
  AbstractWaitStrategy, CompositeWaitStrategy, HealthCheckWaitStrategy, HostPortWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
  NoWaitStrategy, OneShotStartupWaitStrategy, ShellWaitStrategy, StartupCheckStrategy,
};
export type { HttpWaitStrategyOptions, StartupCheckContainer, StartupStatus } from './strategies.js';
export { runStrategy } from './strategies.js';

/**
 * Readiness conditions for {@link Container.waitFor}, named as in testcontainers.
 * @example
 * import { Container, Wait } from 'slipway';
 * new Container('postgres:16').waitFor(Wait.forLogMessage(/ready to accept connections/, 2));
 */
export const Wait = {
  /** Published TCP ports listen inside the container and accept connections (the default when ports are published). */
  forListeningPorts: (...ports: number[]) => new HostPortWaitStrategy(ports.length ? ports : undefined),
  /** A log line matches `pattern`, `times` times. */
  forLogMessage: (pattern: RegExp | string, times = 1) => new LogWaitStrategy(pattern, times),
  /** An HTTP request to `path` on container `port` (published) answers 2xx, or as configured. */
  forHttp: (path: string, port: number, options: HttpWaitStrategyOptions = {}) => new HttpWaitStrategy(path, port, options),
  /** A command run inside the container exits with 0. */
  forSuccessfulCommand: (command: string | readonly string[]) =>
    new ShellWaitStrategy(typeof command === 'string' ? ['/bin/sh', '-c', command] : command),
  /** The container's health check passes: the builder's `withHealthCheck`, else the image's HEALTHCHECK. */
  forHealthCheck: () => new HealthCheckWaitStrategy(),
  /** The process exits with code 0. */
  forOneShotStartup: () => new OneShotStartupWaitStrategy(),
  /** Every strategy is satisfied; children keep their own timeouts, `.withDeadline(ms)` caps the whole. */
  forAll: (strategies: readonly WaitStrategy[]) => new CompositeWaitStrategy(strategies),
  /** Do not wait. */
  none: () => new NoWaitStrategy(),
};

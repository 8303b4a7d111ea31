import type { StartedContainer } from './started-container.js';
import type { WaitStrategy } from './wait/index.js';

/**
 * Options of {@link Container.withSnapshot}.
 * @example
 * import { Container, Wait } from 'slipway';
 * const pg = new Container('postgres:16').withEnv({ POSTGRES_PASSWORD: 'pw' }).expose(5432)
 *   .waitFor(Wait.forLogMessage(/ready to accept connections/, 2))
 *   .withSnapshot({ salt: 'schema-v3', waitStrategy: Wait.forLogMessage(/ready to accept connections/) });
 */
export interface SnapshotOptions {
  /** Mixed into the key: change it to make a new snapshot (e.g. when `prepare` or your seed data change). */
  salt?: string;
  /**
   * Runs once, on the start that makes the snapshot, after the wait strategy and before the quiesce (seed data,
   * migrations): what it writes is in the snapshot. Not part of the key: change `salt` when it changes.
   */
  prepare?: (container: StartedContainer) => Promise<void>;
  /**
   * Runs before the stop signal when the snapshot is made, to bring the service's files to a consistent state
   * (e.g. `redis-cli SAVE`). The stop signal (withStopSignal, else the image's StopSignal, else SIGTERM) follows;
   * the process must then exit with code 0 within the stop timeout, or no snapshot is made.
   */
  quiesce?: (container: StartedContainer) => Promise<void>;
  /**
   * The wait strategy of starts from the snapshot (the restart right after it is made, later starts, `reset()`,
   * `restart()`): a service whose first start logs a line twice (init, then the real server) logs it once from a
   * snapshot. @defaultValue the container's wait strategy
   */
  waitStrategy?: WaitStrategy;
}

const MODULE_DEFAULT = Symbol('slipway.snapshot.moduleDefault');

/**
 * Marks a module's default snapshot (PostgreSQL's, Redis' with initial data): where snapshots are unavailable (the
 * engine runtime) it is skipped, where a snapshot the user asked for is `ERR_UNSUPPORTED`.
 */
export function moduleDefaultSnapshot(opts: SnapshotOptions): SnapshotOptions {
  return { ...opts, [MODULE_DEFAULT]: true } as SnapshotOptions;
}

/** Whether `opts` came from {@link moduleDefaultSnapshot} (kept by `withSnapshot`'s copy: spread copies symbol keys). */
export function isModuleDefaultSnapshot(opts: SnapshotOptions): boolean {
  return (opts as Record<symbol, unknown>)[MODULE_DEFAULT] === true;
}

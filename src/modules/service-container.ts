/**
 * The shared shape of service modules (`PostgreSqlContainer`, `RedisContainer`, …): a copy-on-write
 * builder that wraps a generic {@link Container} and applies the service's defaults at `start()`, and a
 * started handle that wraps a {@link StartedContainer} and adds connection details.
 */
import { Readable } from 'node:stream';
import { Container } from '../api/container.js';
import type { ExecOptions, ExecResult, ExitInfo, LogStream, LogsOptions, StartedContainer } from '../api/started-container.js';
import type { Network } from '../api/network.js';
import type { SnapshotOptions } from '../api/snapshot-options.js';
import { Wait, type WaitStrategy } from '../api/wait/index.js';
import { invalidArgument } from '../errors.js';
import { logger } from '../internal/debug.js';

const log = logger('modules');

/** testcontainers' modules wait up to 120 s (a first start of a database may initialise a data directory). */
export const MODULE_STARTUP_TIMEOUT = 120_000;

/**
 * What a service module is, in one place for both of its faces: the immutable builder exported by `slipway`
 * ({@link ServiceContainer}) and the mutable testcontainers-style class exported by `slipway/testcontainers`.
 * Both keep the user's customisations in a {@link Container} and hand it to {@link ServiceDefinition.configure} at start.
 */
export interface ServiceDefinition<S extends object> {
  /** The service's main container port (published on a free host port unless the user published it). */
  readonly port: number;
  /** Settings before any `with*` call. */
  readonly defaults: Readonly<S>;
  /**
   * The user's builder plus the module's defaults (environment, command, files, readiness wait). Never replaces a port
   * the user published or a wait strategy the user chose.
   */
  configure(container: Container, settings: Readonly<S>): Container;
  /** One-time work once the service is ready (e.g. importing initial data). Not run again on `restart()`. */
  afterStart?(started: StartedContainer, settings: Readonly<S>): Promise<void>;
}

/**
 * Runs the definition's {@link ServiceDefinition.afterStart}; if it fails, removes the container (as a failed wait
 * does) and rethrows, so a module never leaves a half-initialised service behind.
 */
export async function finishServiceStart<S extends object>(def: ServiceDefinition<S>, started: StartedContainer, settings: Readonly<S>): Promise<void> {
  if (!def.afterStart) return;
  try {
    await def.afterStart(started, settings);
  } catch (err) {
    await started.remove().catch((e: unknown) => log('remove after failed module init: %O', e));
    throw err;
  }
}

/** @internal What a module builder carries from copy to copy. */
export interface ModuleState<S> {
  container: Container;
  settings: Readonly<S>;
}

/**
 * Base of the module builders. Every method returns a new builder; the module's defaults (environment,
 * published port, readiness wait) are applied at {@link ServiceContainer.start}, after your customisations,
 * and never replace a port you published or a wait strategy you chose.
 *
 * Immutable: a `with*` call whose result is dropped changes nothing. `pg.withDatabase('shop'); await pg.start()`
 * starts database `test`; chain the calls, or reassign (`pg = pg.withDatabase('shop')`). The mutable,
 * testcontainers-style classes of `slipway/testcontainers` accept statement-style configuration.
 * @example
 * import { RedisContainer, type ServiceContainer, type StartedRedisContainer, type RedisSettings } from 'slipway';
 * // Every module builder is a ServiceContainer: immutable with* methods, with() to reach the underlying Container.
 * const redis: ServiceContainer<RedisSettings, StartedRedisContainer> = new RedisContainer('redis:7')
 *   .with((c) => c.withMemory('256m'));
 * await using started = await redis.start();
 */
export abstract class ServiceContainer<S extends object, T extends StartedServiceContainer> {
  readonly #container: Container;
  /** The module's own settings (user, password, …). */
  protected readonly settings: Readonly<S>;

  /** Where this module's defaults, waits and start-up work are defined (shared with `slipway/testcontainers`). */
  protected abstract readonly definition: ServiceDefinition<S>;

  protected constructor(state: ModuleState<S>) {
    this.#container = state.container;
    this.settings = Object.freeze({ ...state.settings });
  }

  /** The generic builder holding your customisations (without the module's defaults). */
  get container(): Container { return this.#container; }

  /**
   * Applies any {@link Container} builder method.
   * @example
   * import { PostgreSqlContainer } from 'slipway';
   * new PostgreSqlContainer().with((c) => c.withTmpfs('/var/lib/postgresql/data').withShmSize('256m'));
   */
  with(customize: (container: Container) => Container): this {
    const next = customize(this.#container);
    if (!(next instanceof Container)) throw invalidArgument('with() callback result', next, 'the Container returned by a builder method');
    return this.copy({ container: next, settings: this.settings });
  }

  /** Adds environment variables (the module's own variables, set by its `with*` methods, win). */
  withEnv(env: Record<string, string>): this { return this.with((c) => c.withEnv(env)); }
  /** Memory limit, e.g. `'256m'`. */
  withMemory(limit: string | number): this { return this.with((c) => c.withMemory(limit)); }
  /** CPU quota, e.g. `0.5`. */
  withCpus(cpus: number | string): this { return this.with((c) => c.withCpus(cpus)); }
  /** Joins a user network; other containers reach this one by its name and aliases. */
  withNetwork(network: Network, opts: { aliases?: string[] } = {}): this { return this.with((c) => c.withNetwork(network, opts)); }
  withName(name: string): this { return this.with((c) => c.withName(name)); }
  /** Starts from a snapshot of the initialised service (see `Container.withSnapshot`); replaces the module's default. */
  withSnapshot(opts: SnapshotOptions = {}): this { return this.with((c) => c.withSnapshot(opts)); }
  /** No snapshot, not even the module's default (PostgreSQL's; Redis' with initial data). */
  withoutSnapshot(): this { return this.with((c) => c.withoutSnapshot()); }
  /** Replaces the module's readiness wait. */
  waitFor(strategy: WaitStrategy): this { return this.with((c) => c.waitFor(strategy)); }
  withStartupTimeout(ms: number): this { return this.with((c) => c.withStartupTimeout(ms)); }
  withPullPolicy(policy: 'missing' | 'always' | 'never'): this { return this.with((c) => c.withPullPolicy(policy)); }

  /** Returns a copy with some settings changed (for the subclasses' `with*` methods). */
  protected withSettings(patch: Partial<S>): this {
    return this.copy({ container: this.#container, settings: { ...this.settings, ...patch } });
  }

  /** A new builder of the same class with this state. */
  protected abstract copy(state: ModuleState<S>): this;
  /** The builder to start: the user's container plus the module's defaults. */
  protected configure(container: Container): Container { return this.definition.configure(container, this.settings); }
  /** Wraps the started container in the module's handle. */
  protected abstract wrap(started: StartedContainer): T;

  /** The builder that {@link start} starts (your customisations plus the module's defaults). */
  build(): Container { return this.configure(this.#container); }

  /** Pulls the image if needed, starts the service and waits until it accepts connections. */
  async start(opts: { signal?: AbortSignal } = {}): Promise<T> {
    const started = await this.build().start(opts);
    await finishServiceStart(this.definition, started, this.settings);
    return this.wrap(started);
  }
}

/** Publishes `port` unless the user already published it (e.g. on a fixed host port). */
export function exposeUnlessPublished(c: Container, port: number): Container {
  return c.options.ports.some((p) => p.container === port && p.protocol === 'tcp') ? c : c.expose(port);
}

/**
 * The module's wait strategy unless the user chose one. A health check the user gave (`withHealthCheck`) is waited
 * for too, as testcontainers' modules do: an unhealthy container fails the start.
 */
export function waitUnlessChosen(c: Container, strategy: WaitStrategy): Container {
  if (c.options.waitStrategy !== undefined) return c;
  return c.waitFor(c.options.healthcheck === undefined ? strategy : Wait.forAll([Wait.forHealthCheck(), strategy]));
}

/** A new module builder's container: the image, and testcontainers' module start-up timeout. */
export function moduleContainer(image: string): Container {
  return new Container(image).withStartupTimeout(MODULE_STARTUP_TIMEOUT);
}

/** A non-empty string without NUL bytes. */
export function checkText(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) throw invalidArgument(option, value, 'a non-empty string');
  return value;
}

/**
 * Base of the started module handles: the generic {@link StartedContainer} API, forwarded.
 * @example
 * import { RedisContainer } from 'slipway';
 * await using redis = await new RedisContainer('redis:7').start();
 * redis.getHost(); // '127.0.0.1'
 * redis.getPort(); // the host port of the module's main port (6379 inside)
 * await redis.exec(['redis-cli', 'dbsize']);
 */
export class StartedServiceContainer implements AsyncDisposable {
  /** @param container - the underlying started container */
  constructor(readonly container: StartedContainer) {}

  get id(): string { return this.container.id; }
  get name(): string { return this.container.name; }
  /** The address that reaches published ports. */
  get host(): string { return this.container.host; }
  /** The address that reaches published ports (testcontainers' name). */
  getHost(): string { return this.container.getHost(); }
  getMappedPort(port: number | string): number { return this.container.getMappedPort(port); }
  getFirstMappedPort(): number { return this.container.getFirstMappedPort(); }
  exec(command: readonly string[], opts?: ExecOptions): Promise<ExecResult> { return this.container.exec(command, opts); }
  logs(opts?: LogsOptions): LogStream { return this.container.logs(opts); }
  wait(): Promise<ExitInfo> { return this.container.wait(); }
  stop(opts?: { timeout?: number }): Promise<ExitInfo> { return this.container.stop(opts); }
  restart(opts?: { timeout?: number }): Promise<void> { return this.container.restart(opts); }
  /**
   * Back to the snapshot it started from (the module's default for PostgreSQL, and Redis with initial data; see
   * `StartedContainer.reset`): everything written since is gone, same host ports, ready when it resolves.
   */
  reset(): Promise<void> { return this.container.reset(); }
  remove(): Promise<void> { return this.container.remove(); }
  copyTo(source: string | Buffer, containerPath: string, opts?: { mode?: number; uid?: number; gid?: number }): Promise<void> {
    return this.container.copyTo(source, containerPath, opts);
  }
  /** See {@link StartedContainer.copyFrom}: a Node `Readable` tar stream without `hostPath`, else the files written there. */
  copyFrom(containerPath: string): Promise<Readable>;
  copyFrom(containerPath: string, hostPath: string): Promise<void>;
  copyFrom(containerPath: string, hostPath?: string): Promise<Readable | void>;
  copyFrom(containerPath: string, hostPath?: string): Promise<Readable | void> { return this.container.copyFrom(containerPath, hostPath); }
  async [Symbol.asyncDispose](): Promise<void> { await this.container.remove(); }
}

/**
 * The shared shape of service modules (`PostgreSqlContainer`, `RedisContainer`, …): a copy-on-write
 * builder that wraps a generic {@link Container} and applies the service's defaults at `start()`, and a
 * started handle that wraps a {@link StartedContainer} and adds connection details.
 */
import { Readable } from 'node:stream';
import { Container } from '../api/container.js';
import type { ExecOptions, ExecResult, ExitInfo, LogStream, LogsOptions, StartedContainer } from '../api/started-container.js';
import type { Network } from '../api/network.js';
import type { WaitStrategy } from '../api/wait/index.js';
import { invalidArgument } from '../errors.js';

/** @internal What a module builder carries from copy to copy. */
export interface ModuleState<S> {
  container: Container;
  settings: Readonly<S>;
}

/**
 * Base of the module builders. Every method returns a new builder; the module's defaults (environment,
 * published port, readiness wait) are applied at {@link ServiceContainer.start}, after your customisations,
 * and never replace a port you published or a wait strategy you chose.
 */
export abstract class ServiceContainer<S extends object, T extends StartedServiceContainer> {
  readonly #container: Container;
  /** The module's own settings (user, password, …). */
  protected readonly settings: Readonly<S>;

  protected constructor(state: ModuleState<S>) {
    this.#container = state.container;
    this.settings = Object.freeze({ ...state.settings });
  }

  /** The generic builder holding your customisations (without the module's defaults). */
  get container(): Container { return this.#container; }

  /**
   * Applies any {@link Container} builder method.
   * @example new PostgreSqlContainer().with((c) => c.withTmpfs('/var/lib/postgresql/data').withShmSize('256m'))
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
  protected abstract configure(container: Container): Container;
  /** Wraps the started container in the module's handle. */
  protected abstract wrap(started: StartedContainer): T;

  /** The builder that {@link start} starts (your customisations plus the module's defaults). */
  build(): Container { return this.configure(this.#container); }

  /** Pulls the image if needed, starts the service and waits until it accepts connections. */
  async start(opts: { signal?: AbortSignal } = {}): Promise<T> {
    return this.wrap(await this.build().start(opts));
  }
}

/** Publishes `port` unless the user already published it (e.g. on a fixed host port). */
export function exposeUnlessPublished(c: Container, port: number): Container {
  return c.options.ports.some((p) => p.container === port && p.protocol === 'tcp') ? c : c.expose(port);
}

/** The module's wait strategy unless the user chose one. */
export function waitUnlessChosen(c: Container, strategy: WaitStrategy): Container {
  return c.options.waitStrategy === undefined ? c.waitFor(strategy) : c;
}

/** A non-empty string without NUL bytes. */
export function checkText(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) throw invalidArgument(option, value, 'a non-empty string');
  return value;
}

/** Base of the started module handles: the generic {@link StartedContainer} API, forwarded. */
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
  remove(): Promise<void> { return this.container.remove(); }
  copyTo(source: string | Buffer, containerPath: string, opts?: { mode?: number; uid?: number; gid?: number }): Promise<void> {
    return this.container.copyTo(source, containerPath, opts);
  }
  copyFrom(containerPath: string, hostPath?: string): Promise<Readable | void> { return this.container.copyFrom(containerPath, hostPath); }
  async [Symbol.asyncDispose](): Promise<void> { await this.container.remove(); }
}

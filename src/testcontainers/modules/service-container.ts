/**
 * The base of `slipway/testcontainers`' modules: a mutable {@link GenericContainer} over the same
 * `ServiceDefinition` as `slipway`'s immutable module builders (defaults, waits and start-up work in one place).
 */
import type { Container } from '../../api/container.js';
import { MODULE_STARTUP_TIMEOUT, finishServiceStart, type ServiceDefinition } from '../../modules/service-container.js';
import { GenericContainer } from '../generic-container.js';
import type { StartedTestContainer } from '../started-test-container.js';

/**
 * The part of Docker's container create options that `createOpts` shows.
 * @example
 * import { PostgreSqlContainer, type DockerCreateOptions } from 'slipway/testcontainers';
 * class InspectablePostgres extends PostgreSqlContainer {
 *   get options(): DockerCreateOptions { return this.createOpts; } // protected in modules, as in testcontainers
 * }
 * const pg = new InspectablePostgres('postgres:16').withDatabase('shop');
 * pg.options.Env; // includes 'POSTGRES_DB=shop' once started
 */
export interface DockerCreateOptions {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  /** `NAME=value` */
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Labels: Record<string, string>;
}

/**
 * A testcontainers-style module: every `with*` changes this builder and returns it (statement-style configuration
 * works: `const pg = new PostgreSqlContainer(img); pg.withDatabase('shop'); await pg.start()`). The module's defaults
 * are applied at `start()` without changing the builder, so it can be started again; they never replace a port you
 * published or a wait strategy you chose. Start-up timeout 120 s, as testcontainers' modules.
 *
 * To write a module: a `ServiceDefinition` in `src/modules/<name>.ts` (used by the immutable builder too), a
 * subclass of this with the module's `with*` methods calling {@link ServiceGenericContainer.update}, and a started
 * class extending `AbstractStartedContainer`.
 * @example
 * import { GenericContainer, RedisContainer, type ServiceGenericContainer } from 'slipway/testcontainers';
 * const redis = new RedisContainer('redis:7');
 * redis instanceof GenericContainer; // true: every module is a GenericContainer (with* returns this)
 * redis.withPassword('pw').withExposedPorts(6379);
 */
export abstract class ServiceGenericContainer<S extends object, T extends StartedTestContainer> extends GenericContainer {
  #settings: Readonly<S>;
  #built: Container | undefined;

  protected constructor(image: string, protected readonly definition: ServiceDefinition<S>) {
    super(image);
    this.#settings = Object.freeze({ ...definition.defaults });
    this.withStartupTimeout(MODULE_STARTUP_TIMEOUT);
  }

  /** The module's current settings (what its `with*` methods set). */
  protected get settings(): Readonly<S> { return this.#settings; }

  /** Changes some settings; returns this builder (for the subclasses' `with*` methods). */
  protected update(patch: Partial<S>): this {
    this.#settings = Object.freeze({ ...this.#settings, ...patch });
    return this;
  }

  /** The user's container (as `GenericContainer` builds it) plus the module's defaults. */
  protected override async build(): Promise<Container> {
    const settings = this.#settings;
    const built = this.definition.configure(await super.build(), settings);
    this.#built = built;
    return built;
  }

  /**
   * What the last `start()` created, in the shape of Docker's create options (testcontainers' modules change their
   * builder at start, and its own tests read `container.createOpts.Cmd` and `.Env` afterwards); before a start, the
   * builder's own settings. `Env` holds what you and the module set, not the image's.
   */
  protected get createOpts(): DockerCreateOptions {
    const o = (this.#built ?? this.container).options;
    return {
      Image: o.image,
      ...(o.command ? { Cmd: [...o.command] } : {}),
      ...(o.entrypoint ? { Entrypoint: [...o.entrypoint] } : {}),
      ...(Object.keys(o.env).length > 0 ? { Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`) } : {}),
      ...(o.user !== undefined ? { User: o.user } : {}),
      ...(o.workdir !== undefined ? { WorkingDir: o.workdir } : {}),
      Labels: { ...o.labels },
    };
  }

  /** Wraps the started container in the module's started class. */
  protected abstract wrap(started: StartedTestContainer, settings: Readonly<S>): T;

  /**
   * Starts the service and waits until it accepts connections; the module's one-time work (e.g. initial data) runs
   * then, and a failure there removes the container, as a failed wait does.
   */
  override async start(): Promise<T> {
    const settings = this.#settings;
    const started = await super.start();
    await finishServiceStart(this.definition, started.slipway, settings);
    return this.wrap(started, settings);
  }
}

import { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, waitUnlessChosen, type ModuleState } from './service-container.js';

const PORT = 6379;

/** Settings of {@link RedisContainer}. */
export interface RedisSettings {
  /** Set with `--requirepass`; none by default. */
  password?: string;
}

/**
 * Redis, published on a free host port and ready once it logs "Ready to accept connections".
 *
 * @example
 * await using redis = await new RedisContainer('redis:7').start();
 * const client = createClient({ url: redis.getConnectionUrl() });
 */
export class RedisContainer extends ServiceContainer<RedisSettings, StartedRedisContainer> {
  /** @param image - @defaultValue 'redis:7' */
  constructor(image = 'redis:7', /** @internal */ state?: ModuleState<RedisSettings>) {
    super(state ?? { container: new Container(image), settings: {} });
  }

  /** Requires this password (`redis-server --requirepass`); replaces the image's command. */
  withPassword(password: string): RedisContainer { return this.withSettings({ password: checkText('password', password) }); }

  protected copy(state: ModuleState<RedisSettings>): this {
    return new RedisContainer(state.container.options.image, state) as this;
  }

  protected configure(c: Container): Container {
    const withPass = this.settings.password === undefined ? c : c.withCommand(['redis-server', '--requirepass', this.settings.password]);
    return waitUnlessChosen(exposeUnlessPublished(withPass, PORT),
      Wait.forAll([Wait.forLogMessage(/Ready to accept connections/), Wait.forListeningPorts(PORT)]));
  }

  protected wrap(started: StartedContainer): StartedRedisContainer {
    return new StartedRedisContainer(started, this.settings);
  }
}

/** A started {@link RedisContainer}. */
export class StartedRedisContainer extends StartedServiceContainer {
  readonly #settings: Readonly<RedisSettings>;

  /** @internal */
  constructor(container: StartedContainer, settings: Readonly<RedisSettings>) {
    super(container);
    this.#settings = settings;
  }

  /** The host port that reaches 6379. */
  getPort(): number { return this.getMappedPort(PORT); }
  getPassword(): string | undefined { return this.#settings.password; }
  /** `redis://host:port`, or `redis://:password@host:port` with a password. */
  getConnectionUrl(): string {
    const auth = this.#settings.password === undefined ? '' : `:${encodeURIComponent(this.#settings.password)}@`;
    return `redis://${auth}${this.getHost()}:${this.getPort()}`;
  }
}

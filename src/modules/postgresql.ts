import { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, waitUnlessChosen, type ModuleState } from './service-container.js';

const PORT = 5432;

/** Settings of {@link PostgreSqlContainer}. */
export interface PostgreSqlSettings {
  /** @defaultValue 'test' */
  database: string;
  /** @defaultValue 'test' */
  username: string;
  /** @defaultValue 'test' */
  password: string;
}

/**
 * PostgreSQL (the official image's `POSTGRES_USER`/`POSTGRES_PASSWORD`/`POSTGRES_DB`), published on a free
 * host port and ready once the server (not the init-time one) accepts connections.
 *
 * @example
 * await using pg = await new PostgreSqlContainer('postgres:16').withDatabase('app').start();
 * const client = new pg.Client({ connectionString: pg.getConnectionUri() });
 */
export class PostgreSqlContainer extends ServiceContainer<PostgreSqlSettings, StartedPostgreSqlContainer> {
  /** @param image - @defaultValue 'postgres:16' */
  constructor(image = 'postgres:16', /** @internal */ state?: ModuleState<PostgreSqlSettings>) {
    super(state ?? { container: new Container(image), settings: { database: 'test', username: 'test', password: 'test' } });
  }

  /** Name of the database created at start (`POSTGRES_DB`). */
  withDatabase(database: string): PostgreSqlContainer { return this.withSettings({ database: checkText('database', database) }); }
  /** The superuser created at start (`POSTGRES_USER`). */
  withUsername(username: string): PostgreSqlContainer { return this.withSettings({ username: checkText('username', username) }); }
  /** Its password (`POSTGRES_PASSWORD`). */
  withPassword(password: string): PostgreSqlContainer { return this.withSettings({ password: checkText('password', password) }); }

  protected copy(state: ModuleState<PostgreSqlSettings>): this {
    return new PostgreSqlContainer(state.container.options.image, state) as this;
  }

  protected configure(c: Container): Container {
    const s = this.settings;
    const env = c.withEnv({ POSTGRES_DB: s.database, POSTGRES_USER: s.username, POSTGRES_PASSWORD: s.password });
    // The entrypoint starts a temporary server for initialisation first: the second message is the real one.
    return waitUnlessChosen(exposeUnlessPublished(env, PORT),
      Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections/, 2), Wait.forListeningPorts(PORT)]));
  }

  protected wrap(started: StartedContainer): StartedPostgreSqlContainer {
    return new StartedPostgreSqlContainer(started, this.settings);
  }
}

/** A started {@link PostgreSqlContainer}. */
export class StartedPostgreSqlContainer extends StartedServiceContainer {
  readonly #settings: Readonly<PostgreSqlSettings>;

  /** @internal */
  constructor(container: StartedContainer, settings: Readonly<PostgreSqlSettings>) {
    super(container);
    this.#settings = settings;
  }

  /** The host port that reaches 5432. */
  getPort(): number { return this.getMappedPort(PORT); }
  getDatabase(): string { return this.#settings.database; }
  getUsername(): string { return this.#settings.username; }
  getPassword(): string { return this.#settings.password; }
  /** `postgres://user:password@host:port/database` (user, password and database percent-encoded). */
  getConnectionUri(): string {
    const e = encodeURIComponent;
    return `postgres://${e(this.getUsername())}:${e(this.getPassword())}@${this.getHost()}:${this.getPort()}/${e(this.getDatabase())}`;
  }
}

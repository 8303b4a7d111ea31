import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { SlipwayError } from '../errors.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 3306;

/**
 * Settings of {@link MariaDbContainer} and {@link MySqlContainer}.
 * @example
 * import { MariaDbContainer, type MariaDbSettings } from 'slipway';
 * const defaults: MariaDbSettings = { database: 'test', username: 'test', userPassword: 'test', rootPassword: 'test' };
 * new MariaDbContainer('mariadb:11').withDatabase('shop').withUsername('shop').withUserPassword('pw').withRootPassword('root');
 */
export interface MariaDbSettings {
  /** Created at first start (`MARIADB_DATABASE` / `MYSQL_DATABASE`). @defaultValue 'test' */
  database: string;
  /** Created with all privileges on the database (`…_USER`); `root` creates no extra user. @defaultValue 'test' */
  username: string;
  /** The user's password (`…_PASSWORD`). @defaultValue 'test' */
  userPassword: string;
  /** `root`'s password, from any host (`…_ROOT_PASSWORD`). @defaultValue 'test' */
  rootPassword: string;
}

/**
 * What differs between the MariaDB and MySQL flavours of the same module.
 * @example
 * import type { Flavour } from 'slipway';
 * const mysql: Flavour = { env: 'MYSQL', scheme: 'mysql', client: 'mysql' }; // what MySqlContainer uses
 */
export interface Flavour {
  /** Prefix of the image's environment variables. */
  env: 'MARIADB' | 'MYSQL';
  /** Scheme of {@link StartedMariaDbContainer.getConnectionUri}. */
  scheme: 'mariadb' | 'mysql';
  /** The command-line client inside the image. */
  client: 'mariadb' | 'mysql';
}

const DEFAULTS: MariaDbSettings = { database: 'test', username: 'test', userPassword: 'test', rootPassword: 'test' };

/** The MariaDB/MySQL service module of one flavour (shared by `slipway`'s builders and `slipway/testcontainers`'). */
function mariaDbFamilyService(flavour: Flavour): ServiceDefinition<MariaDbSettings> & { flavour: Flavour } {
  return {
    flavour,
    port: PORT,
    defaults: DEFAULTS,
    configure(c: Container, s: Readonly<MariaDbSettings>): Container {
      const p = flavour.env;
      // As testcontainers does: with username `root` there is no second account and root uses the user's password.
      const env: Record<string, string> = s.username === 'root'
        ? { [`${p}_DATABASE`]: s.database, [`${p}_ROOT_PASSWORD`]: s.userPassword }
        : { [`${p}_DATABASE`]: s.database, [`${p}_ROOT_PASSWORD`]: s.rootPassword, [`${p}_USER`]: s.username, [`${p}_PASSWORD`]: s.userPassword };
      // The entrypoint's initialisation server runs with --skip-networking: the port listens only once
      // the real server is up, with the accounts and init scripts in place.
      return waitUnlessChosen(exposeUnlessPublished(c.withEnv(env), PORT), Wait.forListeningPorts(PORT));
    },
  };
}

/** MariaDB: `MARIADB_*` variables, `mariadb://` URIs, the `mariadb` client. */
export const mariaDbService = mariaDbFamilyService({ env: 'MARIADB', scheme: 'mariadb', client: 'mariadb' });
/** MySQL under testcontainers' name: `MYSQL_*` variables, `mysql://` URIs, the `mysql` client. */
export const mySqlService = mariaDbFamilyService({ env: 'MYSQL', scheme: 'mysql', client: 'mysql' });

/** The shared builder of {@link MariaDbContainer} and {@link MySqlContainer}. */
abstract class MariaDbFamilyContainer extends ServiceContainer<MariaDbSettings, StartedMariaDbContainer> {
  protected abstract override readonly definition: ServiceDefinition<MariaDbSettings> & { flavour: Flavour };

  /** The database created at first start. */
  withDatabase(database: string): this { return this.withSettings({ database: checkText('database', database) }); }
  /** The user created with all privileges on the database; `root` makes the root account the user. */
  withUsername(username: string): this { return this.withSettings({ username: checkText('username', username) }); }
  /** The user's password. */
  withUserPassword(password: string): this { return this.withSettings({ userPassword: checkText('userPassword', password) }); }
  /** `root`'s password (root may connect from any host, as in the official images). */
  withRootPassword(password: string): this { return this.withSettings({ rootPassword: checkText('rootPassword', password) }); }

  protected wrap(started: StartedContainer): StartedMariaDbContainer {
    return new StartedMariaDbContainer(started, this.settings, this.definition.flavour);
  }
}

/**
 * MariaDB (the official image's `MARIADB_*` variables and `/docker-entrypoint-initdb.d` scripts), published
 * on a free host port and ready once the server (not the init-time one) listens.
 *
 * @example
 * import mysql from 'mysql2/promise';
 * import { MariaDbContainer } from 'slipway';
 * await using db = await new MariaDbContainer('mariadb:11').withDatabase('shop').start();
 * const conn = await mysql.createConnection(db.getConnectionUri());
 */
export class MariaDbContainer extends MariaDbFamilyContainer {
  protected readonly definition = mariaDbService;

  /** @param image - @defaultValue 'mariadb:11' */
  constructor(image = 'mariadb:11', /** @internal */ state?: ModuleState<MariaDbSettings>) {
    super(state ?? { container: moduleContainer(image), settings: DEFAULTS });
  }

  protected copy(state: ModuleState<MariaDbSettings>): this {
    return new MariaDbContainer(state.container.options.image, state) as this;
  }
}

/**
 * MySQL under testcontainers' `MySqlContainer` name: the official image's `MYSQL_*` variables, `mysql://` URIs
 * and the `mysql` client. MariaDB images accept the same variables, so it runs over either.
 *
 * @example
 * import mysql from 'mysql2/promise';
 * import { MySqlContainer } from 'slipway';
 * await using db = await new MySqlContainer('mysql:8').withRootPassword('pw').start();
 * const conn = await mysql.createConnection(db.getConnectionUri(true));
 */
export class MySqlContainer extends MariaDbFamilyContainer {
  protected readonly definition = mySqlService;

  /** @param image - @defaultValue 'mysql:8' */
  constructor(image = 'mysql:8', /** @internal */ state?: ModuleState<MariaDbSettings>) {
    super(state ?? { container: moduleContainer(image), settings: DEFAULTS });
  }

  protected copy(state: ModuleState<MariaDbSettings>): this {
    return new MySqlContainer(state.container.options.image, state) as this;
  }
}

/** The root password in effect (with username `root`, the user password). */
export function mariaDbRootPassword(s: Readonly<MariaDbSettings>): string { return s.username === 'root' ? s.userPassword : s.rootPassword; }

function account(s: Readonly<MariaDbSettings>, isRoot: boolean): [string, string] {
  return isRoot ? ['root', mariaDbRootPassword(s)] : [s.username, s.userPassword];
}

/** `<scheme>://user:password@host:port/database`, pieces percent-encoded. */
export function mariaDbConnectionUri(flavour: Flavour, host: string, port: number, s: Readonly<MariaDbSettings>, isRoot: boolean): string {
  const e = encodeURIComponent;
  const [user, password] = account(s, isRoot);
  return `${flavour.scheme}://${e(user)}:${e(password)}@${host}:${port}/${e(s.database)}`;
}

/** testcontainers' `executeQuery`: the image's client in the container, over TCP to 127.0.0.1, in the database. */
export async function mariaDbExecuteQuery(
  started: StartedContainer, flavour: Flavour, s: Readonly<MariaDbSettings>, query: string, additionalFlags: readonly string[], isRoot: boolean,
): Promise<string> {
  const [user, password] = account(s, isRoot);
  // The password travels in the environment, not on the command line (`ps` in the container shows argv).
  const r = await started.exec([flavour.client, '-h', '127.0.0.1', '-P', String(PORT), '-u', user, s.database, ...additionalFlags, '-e', `${query};`],
    { env: { MYSQL_PWD: password } });
  if (r.exitCode !== 0) {
    throw new SlipwayError('ERR_COMMAND_FAILED', `executeQuery failed with exit code ${r.exitCode ?? r.signal} for query: ${query}`, {
      hint: 'check the SQL and the account; the client\'s error is below',
      details: r.stderr.trim(),
    });
  }
  return r.stdout;
}

/**
 * A started {@link MariaDbContainer} or {@link MySqlContainer}.
 * @example
 * import { MariaDbContainer } from 'slipway';
 * await using db = await new MariaDbContainer('mariadb:11').start();
 * db.getConnectionUri(); // mariadb://test:test@127.0.0.1:PORT/test
 * await db.executeQuery('CREATE TABLE t (id INT)');
 */
export class StartedMariaDbContainer extends StartedServiceContainer {
  readonly #settings: Readonly<MariaDbSettings>;
  readonly #flavour: Flavour;

  /** @internal */
  constructor(container: StartedContainer, settings: Readonly<MariaDbSettings>, flavour: Flavour) {
    super(container);
    this.#settings = settings;
    this.#flavour = flavour;
  }

  /** The host port that reaches 3306. */
  getPort(): number { return this.getMappedPort(PORT); }
  getDatabase(): string { return this.#settings.database; }
  getUsername(): string { return this.#settings.username; }
  getUserPassword(): string { return this.#settings.userPassword; }
  getRootPassword(): string { return mariaDbRootPassword(this.#settings); }

  /**
   * `mariadb://user:password@host:port/database` (`mysql://` from {@link MySqlContainer}); pieces percent-encoded.
   * `mysql2`'s `createConnection(uri)` and `createPool(uri)` take either scheme.
   * @param isRoot - as `root` with the root password instead of the user @defaultValue false
   */
  getConnectionUri(isRoot = false): string { return mariaDbConnectionUri(this.#flavour, this.getHost(), this.getPort(), this.#settings, isRoot); }

  /**
   * Runs SQL with the image's own client inside the container (over TCP to 127.0.0.1, in the database) and
   * returns its output (tab-separated rows with a header line).
   * @param additionalFlags - more client flags, e.g. `['--skip-column-names']`
   * @param isRoot - as `root` instead of the user @defaultValue false
   * @throws SlipwayError `ERR_COMMAND_FAILED` when the client exits non-zero (its stderr is in the message)
   */
  executeQuery(query: string, additionalFlags: readonly string[] = [], isRoot = false): Promise<string> {
    return mariaDbExecuteQuery(this.container, this.#flavour, this.#settings, query, additionalFlags, isRoot);
  }
}

/** A started {@link MySqlContainer} (testcontainers' name). */
export { StartedMariaDbContainer as StartedMySqlContainer };

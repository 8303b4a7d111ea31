/** testcontainers' `@testcontainers/mariadb` and `@testcontainers/mysql` names over slipway's MariaDB module. */
import {
  mariaDbConnectionUri, mariaDbExecuteQuery, mariaDbRootPassword, mariaDbService, mySqlService, type Flavour, type MariaDbSettings,
} from '../../modules/mariadb.js';
import { checkText, type ServiceDefinition } from '../../modules/service-container.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/** The MariaDB family's service definition: MariaDB's or MySQL's variables, scheme and client. */
export type FamilyDefinition = ServiceDefinition<MariaDbSettings> & { flavour: Flavour };

/** The shared mutable builder of {@link MariaDbContainer} and {@link MySqlContainer}. */
abstract class MariaDbFamilyGenericContainer<T extends StartedMariaDbContainer> extends ServiceGenericContainer<MariaDbSettings, T> {
  protected constructor(image: string, protected override readonly definition: FamilyDefinition) { super(image, definition); }

  /** The database created at first start. @defaultValue 'test' */
  withDatabase(database: string): this { return this.update({ database: checkText('database', database) }); }
  /** The user created with all privileges on the database; `root` makes root the user. @defaultValue 'test' */
  withUsername(username: string): this { return this.update({ username: checkText('username', username) }); }
  /** The user's password. @defaultValue 'test' */
  withUserPassword(password: string): this { return this.update({ userPassword: checkText('userPassword', password) }); }
  /** `root`'s password (root may connect from any host). @defaultValue 'test' */
  withRootPassword(password: string): this { return this.update({ rootPassword: checkText('rootPassword', password) }); }
}

/**
 * testcontainers' `MariaDbContainer`: database, user and passwords `test` unless set (`MARIADB_*`), ready once the
 * server (not the init-time one) listens. Every `with*` mutates and returns this builder.
 *
 * @example
 * import mysql from 'mysql2/promise';
 * import { MariaDbContainer } from 'slipway/testcontainers';
 * const db = new MariaDbContainer('mariadb:11');
 * db.withDatabase('shop');
 * await using started = await db.start();
 * const conn = await mysql.createConnection(started.getConnectionUri());
 */
export class MariaDbContainer extends MariaDbFamilyGenericContainer<StartedMariaDbContainer> {
  constructor(image: string) { super(image, mariaDbService); }

  protected wrap(started: StartedTestContainer, settings: Readonly<MariaDbSettings>): StartedMariaDbContainer {
    return new StartedMariaDbContainer(started, settings, mariaDbService.flavour);
  }
}

/**
 * testcontainers' `MySqlContainer`: {@link MariaDbContainer} with `MYSQL_*` variables, `mysql://` and the `mysql` client.
 * @example
 * import mysql from 'mysql2/promise';
 * import { MySqlContainer } from 'slipway/testcontainers';
 * await using db = await new MySqlContainer('mysql:8').withDatabase('shop').start();
 * const conn = await mysql.createConnection(db.getConnectionUri());
 */
export class MySqlContainer extends MariaDbFamilyGenericContainer<StartedMySqlContainer> {
  constructor(image: string) { super(image, mySqlService); }

  protected wrap(started: StartedTestContainer, settings: Readonly<MariaDbSettings>): StartedMySqlContainer {
    return new StartedMySqlContainer(started, settings, mySqlService.flavour);
  }
}

/**
 * testcontainers' `StartedMariaDbContainer`.
 * @example
 * import { MariaDbContainer } from 'slipway/testcontainers';
 * await using db = await new MariaDbContainer('mariadb:11').start();
 * await db.executeQuery('SELECT 1');
 * db.getConnectionUri(true); // as root
 */
export class StartedMariaDbContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, private readonly settings: Readonly<MariaDbSettings>, private readonly flavour: Flavour) { super(started); }

  /** The host port that reaches 3306. */
  getPort(): number { return this.getMappedPort(mariaDbService.port); }
  getDatabase(): string { return this.settings.database; }
  getUsername(): string { return this.settings.username; }
  getUserPassword(): string { return this.settings.userPassword; }
  getRootPassword(): string { return mariaDbRootPassword(this.settings); }
  /** `mariadb://` (`mysql://` for MySQL) `user:password@host:port/database`; as root with `isRoot`. */
  getConnectionUri(isRoot = false): string { return mariaDbConnectionUri(this.flavour, this.getHost(), this.getPort(), this.settings, isRoot); }
  /**
   * SQL through the image's client inside the container; resolves with its output.
   * @throws SlipwayError `ERR_COMMAND_FAILED` when the client exits non-zero.
   */
  executeQuery(query: string, additionalFlags: readonly string[] = [], isRoot = false): Promise<string> {
    return mariaDbExecuteQuery(this.slipway, this.flavour, this.settings, query, additionalFlags, isRoot);
  }
}

/**
 * testcontainers' `StartedMySqlContainer`.
 * @example
 * import { MySqlContainer } from 'slipway/testcontainers';
 * await using db = await new MySqlContainer('mysql:8').start();
 * db.getConnectionUri(); // mysql://test:test@127.0.0.1:PORT/test
 */
export class StartedMySqlContainer extends StartedMariaDbContainer {}

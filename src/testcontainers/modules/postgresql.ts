/** testcontainers' `@testcontainers/postgresql` names over slipway's PostgreSQL module. */
import {
  DEFAULT_SNAPSHOT_NAME, checkSsl, checkSslCert, postgresConnectionUri, postgresRestoreSnapshot, postgresService, postgresSnapshot,
  type PostgreSqlSettings,
} from '../../modules/postgresql.js';
import { checkText } from '../../modules/service-container.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * testcontainers' `PostgreSqlContainer`: database, user and password `test` unless set; ready when `pg_isready`
 * reaches the server over TCP inside the container and the published port answers. Every `with*` mutates and
 * returns this builder.
 *
 * @example
 * import pg from 'pg';
 * import { PostgreSqlContainer } from 'slipway/testcontainers';
 * await using db = await new PostgreSqlContainer('postgres:16').withDatabase('shop').start();
 * const client = new pg.Client({ connectionString: db.getConnectionUri() });
 */
export class PostgreSqlContainer extends ServiceGenericContainer<PostgreSqlSettings, StartedPostgreSqlContainer> {
  constructor(image: string) { super(image, postgresService); }

  /** `POSTGRES_DB`. @defaultValue 'test' */
  withDatabase(database: string): this { return this.update({ database: checkText('database', database) }); }
  /** `POSTGRES_USER`, a superuser. @defaultValue 'test' */
  withUsername(username: string): this { return this.update({ username: checkText('username', username) }); }
  /** `POSTGRES_PASSWORD`. @defaultValue 'test' */
  withPassword(password: string): this { return this.update({ password: checkText('password', password) }); }
  /**
   * Serves TLS with this certificate and key (host paths; copied in owned by `postgres`, mode 0600) and, if given,
   * verifies client certificates against the CA.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` ("SSL certificate file should not be empty." …) for an empty path.
   */
  withSSL(certFile: string, keyFile: string, caCertFile?: string): this { return this.update({ ssl: checkSsl(certFile, keyFile, caCertFile) }); }
  /** {@link PostgreSqlContainer.withSSL} with a CA, in testcontainers' argument order. */
  withSSLCert(caCertFile: string, certFile: string, keyFile: string): this { return this.update({ ssl: checkSslCert(caCertFile, certFile, keyFile) }); }

  protected wrap(started: StartedTestContainer, settings: Readonly<PostgreSqlSettings>): StartedPostgreSqlContainer {
    return new StartedPostgreSqlContainer(started, settings);
  }
}

/**
 * testcontainers' `StartedPostgreSqlContainer`.
 * @example
 * import { PostgreSqlContainer } from 'slipway/testcontainers';
 * await using db = await new PostgreSqlContainer('postgres:16').start();
 * db.getConnectionUri(); // postgres://test:test@127.0.0.1:PORT/test
 * db.getDatabase(); // 'test'
 */
export class StartedPostgreSqlContainer extends AbstractStartedContainer {
  #snapshotName = DEFAULT_SNAPSHOT_NAME;

  constructor(started: StartedTestContainer, private readonly settings: Readonly<PostgreSqlSettings>) { super(started); }

  /** The host port that reaches 5432. */
  getPort(): number { return this.getMappedPort(postgresService.port); }
  getDatabase(): string { return this.settings.database; }
  getUsername(): string { return this.settings.username; }
  getPassword(): string { return this.settings.password; }
  /** `postgres://user:password@host:port/database` (percent-encoded). */
  getConnectionUri(): string { return postgresConnectionUri(this.getHost(), this.getPort(), this.settings); }
  /** The default name of {@link snapshot} and {@link restoreSnapshot}. @defaultValue 'migrated_template' */
  withSnapshotName(name: string): this { this.#snapshotName = checkText('snapshot name', name); return this; }
  /**
   * Copies the database into template database `name` (`CREATE DATABASE … TEMPLATE`). Close your connections first.
   * @throws SlipwayError `ERR_COMMAND_FAILED` with psql's message (e.g. the database is in use).
   */
  snapshot(name = this.#snapshotName): Promise<void> { return postgresSnapshot(this.slipway, this.settings, name); }
  /** Replaces the database by a copy of template `name` (its connections are closed). */
  restoreSnapshot(name = this.#snapshotName): Promise<void> { return postgresRestoreSnapshot(this.slipway, this.settings, name); }
}

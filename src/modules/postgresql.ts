import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { moduleDefaultSnapshot } from '../api/snapshot-options.js';
import { Wait } from '../api/wait/index.js';
import { SlipwayError } from '../errors.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 5432;
const SSL_DIR = '/tmp/slipway/postgres';
/** testcontainers' default snapshot (template database) name. */
export const DEFAULT_SNAPSHOT_NAME = 'migrated_template';

/**
 * Settings of {@link PostgreSqlContainer}.
 * @example
 * import { PostgreSqlContainer, type PostgreSqlSettings } from 'slipway';
 * const defaults: PostgreSqlSettings = { database: 'test', username: 'test', password: 'test' };
 * // withDatabase/withUsername/withPassword/withSSL change them:
 * new PostgreSqlContainer('postgres:16').withDatabase('app').withUsername('app').withPassword('secret');
 */
export interface PostgreSqlSettings {
  /** @defaultValue 'test' */
  database: string;
  /** @defaultValue 'test' */
  username: string;
  /** @defaultValue 'test' */
  password: string;
  /** Host paths of the server's certificate, key and (optionally) the CA that signs client certificates. */
  ssl?: { cert: string; key: string; ca?: string };
}

/**
 * PostgreSQL as a service module (shared by `slipway`'s {@link PostgreSqlContainer} and `slipway/testcontainers`').
 * Ready when `pg_isready` inside the container reaches the server over TCP on 127.0.0.1 — the entrypoint's
 * initialisation server listens on the socket only, so it never counts, and an image or a reused data directory that
 * logs "ready to accept connections" once is as ready as one that logs it twice — and the published port answers.
 */
export const postgresService: ServiceDefinition<PostgreSqlSettings> = {
  port: PORT,
  defaults: { database: 'test', username: 'test', password: 'test' },
  configure(c: Container, s: Readonly<PostgreSqlSettings>): Container {
    let next = c.withEnv({ POSTGRES_DB: s.database, POSTGRES_USER: s.username, POSTGRES_PASSWORD: s.password });
    if (s.ssl) {
      // The server refuses a key readable by others; owned by postgres because the server runs as postgres.
      const own = { mode: 0o600, owner: 'postgres' };
      next = next.withCopy(s.ssl.cert, `${SSL_DIR}/server.crt`, own).withCopy(s.ssl.key, `${SSL_DIR}/server.key`, own);
      if (s.ssl.ca) next = next.withCopy(s.ssl.ca, `${SSL_DIR}/ca.crt`, own);
      const command = next.options.command;
      // As testcontainers: the flags go to the server only when the command is the server (or the image's default).
      if (!command || command[0] === 'postgres') {
        next = next.withCommand([...(command ?? ['postgres']), '-c', 'ssl=on', '-c', `ssl_cert_file=${SSL_DIR}/server.crt`,
          '-c', `ssl_key_file=${SSL_DIR}/server.key`, ...(s.ssl.ca ? ['-c', `ssl_ca_file=${SSL_DIR}/ca.crt`] : [])]);
      }
    }
    const ready = Wait.forSuccessfulCommand(['pg_isready', '-q', '-h', '127.0.0.1', '-p', String(PORT), '-U', s.username, '-d', s.database]);
    next = snapshotByDefault(next);
    return waitUnlessChosen(exposeUnlessPublished(next, PORT), Wait.forAll([ready, Wait.forListeningPorts(PORT)]));
  },
};

/**
 * PostgreSQL starts from a snapshot by default: its first start (initdb, POSTGRES_DB, init scripts) is kept once, after
 * the image's stop signal (SIGINT: a fast shutdown, which checkpoints and exits 0). Not when the user chose a snapshot
 * setting, a wait strategy (a log wait counting the init server's lines would never see them from a snapshot) or a
 * health check (then the wait is that check, which the snapshot's log wait would replace), or mounted something over the data directory (its data would not be in the snapshot). From the snapshot the
 * server is ready at its one "ready to accept connections" line (no init server then) with the port listening.
 */
function snapshotByDefault(c: Container): Container {
  const o = c.options;
  if (o.snapshot !== undefined || o.waitStrategy !== undefined || o.healthcheck !== undefined) return c;
  const pgdata = o.env.PGDATA ?? '/var/lib/postgresql/data';
  const over = (t: string) => t === '/' || pgdata === t || pgdata.startsWith(`${t}/`) || t.startsWith(`${pgdata}/`);
  if (o.mounts.some((m) => over(m.target))) return c;
  return c.withSnapshot(moduleDefaultSnapshot({ waitStrategy: Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections/), Wait.forListeningPorts(PORT)]) }));
}

/** Checks `withSSL`'s arguments; the messages are testcontainers' (migrated tests match them). */
export function checkSsl(cert: string, key: string, ca?: string): { cert: string; key: string; ca?: string } {
  return checkSslFiles(cert, key, ca, false);
}

/** `withSSLCert(ca, cert, key)`'s check: the CA first, as testcontainers. */
export function checkSslCert(ca: string, cert: string, key: string): { cert: string; key: string; ca?: string } {
  return checkSslFiles(cert, key, ca, true);
}

function checkSslFiles(cert: string, key: string, ca: string | undefined, caFirst: boolean): { cert: string; key: string; ca?: string } {
  const empty = (what: string) => new SlipwayError('ERR_INVALID_ARGUMENT', `${what} file should not be empty.`, { hint: `pass the host path of the ${what} (PEM)` });
  const badCa = ca !== undefined && (typeof ca !== 'string' || !ca);
  if (caFirst && badCa) throw empty('SSL CA certificate');
  if (typeof cert !== 'string' || !cert) throw empty('SSL certificate');
  if (typeof key !== 'string' || !key) throw empty('SSL key');
  if (badCa) throw empty('SSL CA certificate');
  return ca === undefined ? { cert, key } : { cert, key, ca };
}

/** `postgres://user:password@host:port/database` (user, password and database percent-encoded). */
export function postgresConnectionUri(host: string, port: number, s: Readonly<PostgreSqlSettings>): string {
  const e = encodeURIComponent;
  return `postgres://${e(s.username)}:${e(s.password)}@${host}:${port}/${e(s.database)}`;
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

function checkSnapshot(s: Readonly<PostgreSqlSettings>, name: string): void {
  checkText('snapshot name', name);
  if (s.database === 'postgres') {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', 'Snapshot feature is not supported when using the postgres system database', {
      hint: 'use withDatabase() to work in a database of your own',
    });
  }
  if (s.database === name) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', 'Snapshot name cannot be the same as the database name', { hint: 'pick another snapshot name' });
  }
}

/** Runs SQL statements one by one as the configured superuser, connected to `postgres` (so the database can be dropped). */
async function runSql(started: StartedContainer, s: Readonly<PostgreSqlSettings>, statements: string[]): Promise<void> {
  const argv = ['psql', '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-U', s.username, '-d', 'postgres', ...statements.flatMap((sql) => ['-c', sql])];
  const r = await started.exec(argv, { env: { PGPASSWORD: s.password } });
  if (r.exitCode !== 0) {
    throw new SlipwayError('ERR_COMMAND_FAILED', `psql failed with exit code ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`, {
      hint: 'close your own connections to the database first (a template cannot be copied while in use)',
    });
  }
}

/**
 * testcontainers' `snapshot()`: copies the database into a template database `name` (replacing an older one).
 * Close your connections to the database first.
 */
export async function postgresSnapshot(started: StartedContainer, s: Readonly<PostgreSqlSettings>, name: string): Promise<void> {
  checkSnapshot(s, name);
  await runSql(started, s, [
    // A template database cannot be dropped: unmark it first.
    `UPDATE pg_database SET datistemplate = FALSE WHERE datname = ${literal(name)}`,
    `DROP DATABASE IF EXISTS ${ident(name)}`,
    `CREATE DATABASE ${ident(name)} WITH TEMPLATE ${ident(s.database)} OWNER ${ident(s.username)}`,
    `ALTER DATABASE ${ident(name)} WITH is_template = TRUE`,
  ]);
}

/** testcontainers' `restoreSnapshot()`: drops the database (closing its connections) and copies it back from template `name`. */
export async function postgresRestoreSnapshot(started: StartedContainer, s: Readonly<PostgreSqlSettings>, name: string): Promise<void> {
  checkSnapshot(s, name);
  await runSql(started, s, [
    `DROP DATABASE ${ident(s.database)} WITH (FORCE)`,
    `CREATE DATABASE ${ident(s.database)} WITH TEMPLATE ${ident(name)} OWNER ${ident(s.username)}`,
  ]);
}

/**
 * PostgreSQL (the official image's `POSTGRES_USER`/`POSTGRES_PASSWORD`/`POSTGRES_DB`), published on a free
 * host port and ready once the server (not the init-time one) accepts connections.
 *
 * Immutable: every `with*` returns a new builder (a dropped result changes nothing).
 *
 * @example
 * import pg from 'pg';
 * import { PostgreSqlContainer } from 'slipway';
 * await using db = await new PostgreSqlContainer('postgres:16').withDatabase('app').start();
 * const client = new pg.Client({ connectionString: db.getConnectionUri() });
 */
export class PostgreSqlContainer extends ServiceContainer<PostgreSqlSettings, StartedPostgreSqlContainer> {
  protected readonly definition = postgresService;

  /** @param image - @defaultValue 'postgres:16' */
  constructor(image = 'postgres:16', /** @internal */ state?: ModuleState<PostgreSqlSettings>) {
    super(state ?? { container: moduleContainer(image), settings: postgresService.defaults });
  }

  /** Name of the database created at start (`POSTGRES_DB`). Returns a new builder. */
  withDatabase(database: string): PostgreSqlContainer { return this.withSettings({ database: checkText('database', database) }); }
  /** The superuser created at start (`POSTGRES_USER`). Returns a new builder. */
  withUsername(username: string): PostgreSqlContainer { return this.withSettings({ username: checkText('username', username) }); }
  /** Its password (`POSTGRES_PASSWORD`). Returns a new builder. */
  withPassword(password: string): PostgreSqlContainer { return this.withSettings({ password: checkText('password', password) }); }
  /**
   * Serves TLS with this certificate and key (host paths; copied in, owned by `postgres`, mode 0600). Returns a new builder.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for an empty path.
   */
  withSSL(certFile: string, keyFile: string, caCertFile?: string): PostgreSqlContainer {
    return this.withSettings({ ssl: checkSsl(certFile, keyFile, caCertFile) });
  }
  /** {@link PostgreSqlContainer.withSSL} with a CA (testcontainers' argument order). Returns a new builder. */
  withSSLCert(caCertFile: string, certFile: string, keyFile: string): PostgreSqlContainer {
    return this.withSettings({ ssl: checkSslCert(caCertFile, certFile, keyFile) });
  }

  protected copy(state: ModuleState<PostgreSqlSettings>): this {
    return new PostgreSqlContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedPostgreSqlContainer {
    return new StartedPostgreSqlContainer(started, this.settings);
  }
}

/**
 * A started {@link PostgreSqlContainer}.
 * @example
 * import { PostgreSqlContainer } from 'slipway';
 * await using db = await new PostgreSqlContainer('postgres:16').start();
 * db.getConnectionUri(); // postgres://test:test@127.0.0.1:PORT/test
 * await db.snapshot(); // after migrations; restoreSnapshot() between tests
 * await db.restoreSnapshot();
 */
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
  getConnectionUri(): string { return postgresConnectionUri(this.getHost(), this.getPort(), this.#settings); }
  /**
   * Copies the database into template database `name` (plain SQL: `CREATE DATABASE … TEMPLATE`). Close your connections first.
   * @throws SlipwayError `ERR_COMMAND_FAILED` with psql's message when the copy fails (e.g. the database is in use).
   */
  snapshot(name = DEFAULT_SNAPSHOT_NAME): Promise<void> { return postgresSnapshot(this.container, this.#settings, name); }
  /** Replaces the database by a copy of template `name` (its connections are closed). */
  restoreSnapshot(name = DEFAULT_SNAPSHOT_NAME): Promise<void> { return postgresRestoreSnapshot(this.container, this.#settings, name); }
}

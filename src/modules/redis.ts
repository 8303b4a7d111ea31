import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { moduleDefaultSnapshot, type SnapshotOptions } from '../api/snapshot-options.js';
import { Wait } from '../api/wait/index.js';
import { SlipwayError, invalidArgument } from '../errors.js';
import { readInputBytesSync } from '../internal/read-input-file.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 6379;

/**
 * Settings of {@link RedisContainer}.
 * @example
 * import { RedisContainer, type RedisSettings } from 'slipway';
 * const settings: RedisSettings = { password: 'pw', persistence: '/tmp/redis-data' };
 * new RedisContainer('redis:7').withPassword('pw').withPersistence('/tmp/redis-data');
 */
export interface RedisSettings {
  /** Set with `--requirepass`; none by default. */
  password?: string;
  /** Host directory bound at `/data`, with RDB and AOF persistence on. */
  persistence?: string;
  /** Host file of redis-cli commands, run once after the first readiness. */
  initialData?: string;
}

/** redis-cli's environment: the password through `REDISCLI_AUTH`, so it is neither in argv nor warned about. */
function cliEnv(s: Readonly<RedisSettings>): Record<string, string> {
  return s.password === undefined ? {} : { REDISCLI_AUTH: s.password };
}

/** A redis-cli answer that is an error (redis-cli exits 0 for error replies when its input is a pipe). */
const ERROR_REPLY = /^(?:\(error\) )?(?:ERR|WRONGTYPE|NOAUTH|WRONGPASS|NOPERM|LOADING|READONLY|MISCONF)\b/m;

/**
 * Redis as a service module (shared by `slipway`'s {@link RedisContainer} and `slipway/testcontainers`').
 * As testcontainers: the password and persistence flags are appended to your command (or to `redis-server`); a
 * `redis-stack` image gets them through `REDIS_ARGS`. Ready when `redis-cli ping` inside the container answers PONG
 * (not a log line: `--loglevel warning` hides it) and the published port answers.
 */
/** Where the readiness probe finds the password. */
const PASSWORD_FILE = '/run/slipway-redis-password';

export const redisService: ServiceDefinition<RedisSettings> = {
  port: PORT,
  defaults: {},
  configure(c: Container, s: Readonly<RedisSettings>): Container {
    // The persistence flags in testcontainers' own spelling (a name and its value in one element, which redis-server
    // 7 reads as one config line), so a migrated test that compares the command or REDIS_ARGS sees the same text.
    // The password stays two elements: one with a space in it would otherwise be split.
    const persistence = s.persistence !== undefined ? ['--save 1 1 ', '--appendonly yes'] : [];
    const args = [...(s.password !== undefined ? ['--requirepass', s.password] : []), ...persistence];
    let next = c;
    if (args.length > 0 && c.options.image.includes('redis-stack')) {
      // redis-stack's entrypoint splits REDIS_ARGS on spaces (a password with one cannot be passed this way).
      const stackArgs = [...(s.password !== undefined ? [`--requirepass ${s.password}`] : []), ...persistence];
      const existing = c.options.env.REDIS_ARGS;
      next = next.withEnv({ REDIS_ARGS: [existing, ...stackArgs].filter(Boolean).join(' ') }).withEntrypoint(['/entrypoint.sh']);
    } else if (args.length > 0) {
      next = next.withCommand([...(c.options.command?.length ? c.options.command : ['redis-server']), ...args]);
    }
    if (s.persistence !== undefined) {
      next = next.withBind(s.persistence, '/data');
      // The files must be writable in, and removable from, your directory: the container's root is you (rootless) or
      // root (as root), where the image's `redis` user would be an id that cannot write a 0700 directory.
      if (next.options.user === undefined) next = next.withUser('0:0');
    }
    // The readiness probe reads the password from a file, so it never appears in the probe's argv, which a wait-failure
    // message quotes. Readable by the image's user (the probe runs as it); inside the container the password is in
    // redis-server's argv anyway.
    if (s.password !== undefined) next = next.withFile(PASSWORD_FILE, s.password, { mode: 0o644 });
    const ping = s.password === undefined
      ? ['sh', '-c', `redis-cli -p ${PORT} ping | grep -qx PONG`]
      : ['sh', '-c', `REDISCLI_AUTH="$(cat ${PASSWORD_FILE})" redis-cli -p ${PORT} ping | grep -qx PONG`];
    next = snapshotWithInitialData(next, s);
    return waitUnlessChosen(exposeUnlessPublished(next, PORT), Wait.forAll([Wait.forSuccessfulCommand(ping), Wait.forListeningPorts(PORT)]));
  },
  async afterStart(started: StartedContainer, s: Readonly<RedisSettings>): Promise<void> {
    if (s.initialData === undefined) return;
    const script = readInitialData(s.initialData);
    // With a snapshot (configure() put the readable data in it), the data was imported before the snapshot was made.
    if (started.snapshot) return;
    await importInitialData(started, s, script);
  },
};

/**
 * Redis with initial data starts from a snapshot by default: the data is imported once (the snapshot's `prepare`),
 * written to /data/dump.rdb by `SAVE`, then redis-server exits 0 on its stop signal; later starts load the dump.
 * The key's salt has the data file's digest, so an edited file makes a new snapshot. Not by default with persistence
 * (a host directory at /data) or redis-stack images; a snapshot the user asked for gets the data the same way.
 */
function snapshotWithInitialData(c: Container, s: Readonly<RedisSettings>): Container {
  const chosen = c.options.snapshot;
  if (s.initialData === undefined || chosen === false) return c;
  if (chosen === undefined && (s.persistence !== undefined || c.options.image.includes('redis-stack'))) return c;
  let script: Buffer;
  try {
    script = readInputBytesSync(s.initialData);
  } catch {
    return c; // afterStart reports the unreadable file (and the container is removed)
  }
  const user = chosen ?? {};
  const digest = createHash('sha256').update(script).digest('hex');
  const opts: SnapshotOptions = {
    ...user,
    salt: [user.salt, `redis-initial-data:${digest}`].filter(Boolean).join('|'),
    prepare: async (started) => {
      await importInitialData(started, s, script);
      await user.prepare?.(started);
    },
    quiesce: user.quiesce ?? (async (started) => {
      const r = await started.exec(['redis-cli', '-p', String(PORT), 'SAVE'], { env: cliEnv(s) });
      if (r.exitCode !== 0 || !/^OK/m.test(r.stdout)) {
        throw new SlipwayError('ERR_SNAPSHOT', `redis SAVE failed before the snapshot: ${(r.stdout + r.stderr).trim()}`, {
          hint: 'check that /data is writable for the redis user, or start without a snapshot (withoutSnapshot())',
        });
      }
    }),
  };
  return c.withSnapshot(chosen === undefined ? moduleDefaultSnapshot(opts) : opts);
}

function readInitialData(file: string): Buffer {
  try {
    return readInputBytesSync(file);
  } catch (cause) {
    throw new SlipwayError('ERR_COPY_SOURCE_MISSING', `cannot read the initial data file ${file}`, { cause, hint: 'pass withInitialData() a readable file of redis-cli commands' });
  }
}

/** Runs the initial data file through redis-cli. */
async function importInitialData(started: StartedContainer, s: Readonly<RedisSettings>, script: Buffer): Promise<void> {
  const r = await started.exec(['redis-cli', '-p', String(PORT)], { stdin: script, env: cliEnv(s) });
  const output = r.stdout + r.stderr;
  if (r.exitCode !== 0 || ERROR_REPLY.test(output)) {
    throw new SlipwayError('ERR_COMMAND_FAILED', `Could not import initial data from ${s.initialData ?? ''}: ${output.trim()}`, {
      hint: 'each line must be a redis-cli command (testcontainers\' import format)',
    });
  }
}

/** Checks a host path argument; a relative one is taken from the current directory now (testcontainers' tests pass `mkdtempSync('redis-')`). */
export function checkHostPath(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) throw invalidArgument(option, value, 'a host path');
  return resolve(value);
}

/** testcontainers' `executeCliCmd`: `redis-cli <cmd> <flags…>` in the container, authenticated; its output. */
export async function redisCliCommand(started: StartedContainer, s: Readonly<RedisSettings>, cmd: string, flags: readonly string[] = []): Promise<string> {
  const r = await started.exec(['redis-cli', '-p', String(PORT), cmd, ...flags], { env: cliEnv(s) });
  const output = r.stdout + r.stderr;
  if (r.exitCode !== 0) {
    throw new SlipwayError('ERR_COMMAND_FAILED', `executeQuery failed with exit code ${r.exitCode} for query: ${cmd}. ${output}`);
  }
  return output;
}

/** `redis://host:port`, or `redis://:password@host:port` with a password. */
export function redisConnectionUrl(host: string, port: number, s: Readonly<RedisSettings>): string {
  const auth = s.password === undefined || s.password === '' ? '' : `:${encodeURIComponent(s.password)}@`;
  return `redis://${auth}${host}:${port}`;
}

/**
 * Redis, published on a free host port and ready once `redis-cli ping` answers PONG.
 *
 * Immutable: every `with*` returns a new builder (a dropped result changes nothing).
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { RedisContainer } from 'slipway';
 * await using redis = await new RedisContainer('redis:7').start();
 * const client = new Redis(redis.getConnectionUrl());
 */
export class RedisContainer extends ServiceContainer<RedisSettings, StartedRedisContainer> {
  protected readonly definition = redisService;

  /** @param image - @defaultValue 'redis:7' */
  constructor(image = 'redis:7', /** @internal */ state?: ModuleState<RedisSettings>) {
    super(state ?? { container: moduleContainer(image), settings: redisService.defaults });
  }

  /** Requires this password (`--requirepass`, appended to the command). Returns a new builder. */
  withPassword(password: string): RedisContainer { return this.withSettings({ password: checkText('password', password) }); }
  /** Binds host directory `dir` at `/data` with persistence on (`'--save 1 1 ', '--appendonly yes'`, testcontainers' flags). Returns a new builder. */
  withPersistence(dir: string): RedisContainer { return this.withSettings({ persistence: checkHostPath('persistence directory', dir) }); }
  /** Runs this host file of redis-cli commands once the server is ready (a failure removes the container). Returns a new builder. */
  withInitialData(file: string): RedisContainer { return this.withSettings({ initialData: checkHostPath('initial data file', file) }); }

  protected copy(state: ModuleState<RedisSettings>): this {
    return new RedisContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedRedisContainer {
    return new StartedRedisContainer(started, this.settings);
  }
}

/**
 * A started {@link RedisContainer}.
 * @example
 * import { RedisContainer } from 'slipway';
 * await using redis = await new RedisContainer('redis:7').withPassword('pw').start();
 * redis.getConnectionUrl(); // redis://:pw@127.0.0.1:PORT
 * await redis.executeCliCmd('set', ['greeting', 'hi']);
 */
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
  getConnectionUrl(): string { return redisConnectionUrl(this.getHost(), this.getPort(), this.#settings); }
  /**
   * `redis-cli <cmd> <flags…>` in the container (authenticated); resolves with its output.
   * @throws SlipwayError `ERR_COMMAND_FAILED` when redis-cli exits non-zero.
   */
  executeCliCmd(cmd: string, flags: readonly string[] = []): Promise<string> { return redisCliCommand(this.container, this.#settings, cmd, flags); }
}

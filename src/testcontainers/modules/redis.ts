/** testcontainers' `@testcontainers/redis` names over slipway's Redis module. */
import { checkText } from '../../modules/service-container.js';
import { checkHostPath, redisCliCommand, redisConnectionUrl, redisService, type RedisSettings } from '../../modules/redis.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * testcontainers' `RedisContainer`: ready when `redis-cli ping` answers PONG inside the container and the published
 * port answers. Password and persistence flags are appended to your `withCommand` (or to `redis-server`), or go
 * to `REDIS_ARGS` for a `redis-stack` image. Every `with*` mutates and returns this builder.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { RedisContainer } from 'slipway/testcontainers';
 * await using redis = await new RedisContainer('redis:7').withPassword('pw').start();
 * const client = new Redis(redis.getConnectionUrl());
 */
export class RedisContainer extends ServiceGenericContainer<RedisSettings, StartedRedisContainer> {
  constructor(image: string) { super(image, redisService); }

  /** `--requirepass`. */
  withPassword(password: string): this { return this.update({ password: checkText('password', password) }); }
  /**
   * Binds host directory `dir` at `/data` with `--save 1 1 --appendonly yes`. The server then runs as the container's
   * root (you, rootless) so that it can write your directory and you can remove what it wrote. A relative path is
   * taken from the current directory (Docker would make it a named volume).
   */
  withPersistence(dir: string): this { return this.update({ persistence: checkHostPath('persistence directory', dir) }); }
  /** Runs this host file of redis-cli commands (one a line) once the server is ready; a failure removes the container. */
  withInitialData(file: string): this { return this.update({ initialData: checkHostPath('initial data file', file) }); }

  protected wrap(started: StartedTestContainer, settings: Readonly<RedisSettings>): StartedRedisContainer {
    return new StartedRedisContainer(started, settings);
  }
}

/**
 * testcontainers' `StartedRedisContainer`.
 * @example
 * import { RedisContainer } from 'slipway/testcontainers';
 * await using redis = await new RedisContainer('redis:7').start();
 * redis.getConnectionUrl(); // redis://127.0.0.1:PORT
 * await redis.executeCliCmd('ping');
 */
export class StartedRedisContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, private readonly settings: Readonly<RedisSettings>) { super(started); }

  /** The host port that reaches 6379. */
  getPort(): number { return this.getMappedPort(redisService.port); }
  /** The password, `''` without one (as testcontainers). */
  getPassword(): string { return this.settings.password ?? ''; }
  /** `redis://host:port`, or `redis://:password@host:port`. */
  getConnectionUrl(): string { return redisConnectionUrl(this.getHost(), this.getPort(), this.settings); }
  /**
   * `redis-cli <cmd> <flags…>` in the container (authenticated); resolves with its output.
   * @throws SlipwayError `ERR_COMMAND_FAILED` when redis-cli exits non-zero.
   */
  executeCliCmd(cmd: string, additionalFlags: readonly string[] = []): Promise<string> {
    return redisCliCommand(this.slipway, this.settings, cmd, additionalFlags);
  }
}

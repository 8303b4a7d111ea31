import { ComposeEnvironment } from '../compose/compose-environment.js';
import type { StartedComposeEnvironment } from '../compose/started-compose-environment.js';
import type { WaitStrategy } from '../api/wait/index.js';
import { unsupported } from '../errors.js';
import type { ImagePullPolicy } from './pull-policy.js';
import { StartedTestContainer } from './started-test-container.js';

/**
 * testcontainers' `DockerComposeEnvironment` over slipway's {@link ComposeEnvironment}: the same mutable builder
 * (`with*` return `this`), `up(services?)`, `getContainer(name)`, `down()`/`stop()`. No Docker and no `docker
 * compose` binary: the files are read and run by slipway.
 * @example
 * import { DockerComposeEnvironment, Wait } from 'slipway/testcontainers';
 * const env = await new DockerComposeEnvironment('./deploy', 'compose.yml')
 *   .withWaitStrategy('redis-1', Wait.forLogMessage('Ready to accept connections')).up();
 * const redis = env.getContainer('redis-1');
 * await env.down();
 */
export class DockerComposeEnvironment {
  #env: ComposeEnvironment;

  /** @param composeFiles - one file name or several, merged in order (relative to `composeFilePath`). */
  constructor(composeFilePath: string, composeFiles: string | string[]) {
    this.#env = new ComposeEnvironment(composeFilePath, composeFiles);
  }

  /** Services with `build:` are built (slipway always builds them, with its own cache). */
  withBuild(): this { this.#env = this.#env.withBuild(); return this; }
  /** Interpolation variables, winning over the process environment and `.env`. */
  withEnvironment(environment: Record<string, string>): this { this.#env = this.#env.withEnvironment(environment); return this; }
  /** An env file (relative to the project directory) read instead of `.env`. */
  withEnvironmentFile(envFile: string): this { this.#env = this.#env.withEnvironmentFile(envFile); return this; }
  /** Activates profiles. */
  withProfiles(...profiles: string[]): this { this.#env = this.#env.withProfiles(...profiles); return this; }
  /** Containers are always created fresh here: accepted for compatibility, changes nothing. */
  withNoRecreate(): this { return this; }
  /** `alwaysPull()` pulls every service image again. */
  withPullPolicy(policy: ImagePullPolicy): this { this.#env = this.#env.withPullPolicy(policy.shouldPull() ? 'always' : 'missing'); return this; }
  /** The wait for containers without their own. */
  withDefaultWaitStrategy(waitStrategy: WaitStrategy): this { this.#env = this.#env.withDefaultWaitStrategy(waitStrategy); return this; }
  /** The wait for one container (`api-1`, also `api_1`). */
  withWaitStrategy(containerName: string, waitStrategy: WaitStrategy): this {
    this.#env = this.#env.withWaitStrategy(containerName.replace(/_(\d+)$/, '-$1'), waitStrategy);
    return this;
  }
  /** Bounds each container's wait. */
  withStartupTimeout(startupTimeout: number): this { this.#env = this.#env.withStartupTimeout(startupTimeout); return this; }
  /** The project name. */
  withProjectName(projectName: string): this { this.#env = this.#env.withProjectName(projectName); return this; }
  /** Docker compose client options (`--compatibility`, executable path) have no meaning without the binary. */
  withClientOptions(_options: unknown): this {
    throw unsupported('withClientOptions', 'slipway reads compose files itself, there is no docker compose binary', 'remove the call; use withEnvironment() or withProfiles() for what the options carried');
  }
  /** Accepted for compatibility: containers are always removed with their process. */
  withAutoCleanup(_autoCleanup: boolean): this { return this; }

  /** Starts the services (default: all the active profiles enable) and their dependencies. */
  async up(services?: string[]): Promise<StartedDockerComposeEnvironment> {
    return new StartedDockerComposeEnvironment(await this.#env.up(services));
  }
}

/**
 * testcontainers' started environment: `getContainer`, `stop()`, `down()`, `await using`.
 * @example
 * import { DockerComposeEnvironment } from 'slipway/testcontainers';
 * await using env = await new DockerComposeEnvironment('./deploy', 'compose.yml').up(['redis']);
 * env.getContainer('redis-1').getMappedPort(6379);
 */
export class StartedDockerComposeEnvironment implements AsyncDisposable {
  readonly #env: StartedComposeEnvironment;
  readonly #wrapped = new Map<string, StartedTestContainer>();

  /** @internal */
  constructor(env: StartedComposeEnvironment) { this.#env = env; }

  /** slipway's own handle. */
  get slipway(): StartedComposeEnvironment { return this.#env; }

  /** A container by its name (`api-1`, `api_1`, `<project>-api-1`). */
  getContainer(containerName: string): StartedTestContainer {
    const c = this.#env.getContainer(containerName);
    let w = this.#wrapped.get(c.id);
    if (!w) {
      w = new StartedTestContainer(c);
      this.#wrapped.set(c.id, w);
    }
    return w;
  }

  /** Stops and removes the containers and networks (volumes stay). */
  async stop(): Promise<StoppedDockerComposeEnvironment> {
    await this.#env.stop();
    return new StoppedDockerComposeEnvironment(this.#env);
  }

  /** Removes everything; `removeVolumes` defaults to true as in testcontainers. */
  async down(options: { timeout?: number; removeVolumes?: boolean } = {}): Promise<DownedDockerComposeEnvironment> {
    await this.#env.down({ timeout: options.timeout, removeVolumes: options.removeVolumes ?? true });
    return new DownedDockerComposeEnvironment();
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.down(); }
}

/**
 * testcontainers' stopped environment: `down()` removes what is left.
 * @example
 * import { DockerComposeEnvironment } from 'slipway/testcontainers';
 * const env = await new DockerComposeEnvironment('./deploy', 'compose.yml').up();
 * const stopped = await env.stop(); // containers and networks gone, volumes kept
 * await stopped.down({ removeVolumes: true });
 */
export class StoppedDockerComposeEnvironment {
  readonly #env: StartedComposeEnvironment;
  /** @internal */
  constructor(env: StartedComposeEnvironment) { this.#env = env; }
  async down(options: { timeout?: number; removeVolumes?: boolean } = {}): Promise<DownedDockerComposeEnvironment> {
    await this.#env.down({ timeout: options.timeout, removeVolumes: options.removeVolumes ?? true }).catch(() => undefined);
    return new DownedDockerComposeEnvironment();
  }
}

/**
 * testcontainers' result of `down()`.
 * @example
 * import { DockerComposeEnvironment, type DownedDockerComposeEnvironment } from 'slipway/testcontainers';
 * const env = await new DockerComposeEnvironment('./deploy', 'compose.yml').up();
 * const downed: DownedDockerComposeEnvironment = await env.down();
 */
export class DownedDockerComposeEnvironment {}

/** testcontainers' `GenericContainerBuilder` (from `GenericContainer.fromDockerfile`) over slipway's own builder. */
import { Container } from '../api/container.js';
import { invalidArgument } from '../errors.js';
import type { BuildSecret } from '../build/run-mounts.js';
import type { ImagePullPolicy } from './pull-policy.js';
import { randomUuid } from './utils.js';

/**
 * Builds an image from a Dockerfile on slipway's runtime (no Docker) and gives a container of it:
 * `GenericContainer.fromDockerfile(context, 'Dockerfile').withBuildArgs({...}).withTarget('x').build()`.
 * @example
 * import { GenericContainer, PullPolicy } from 'slipway/testcontainers';
 * const container = await GenericContainer.fromDockerfile('./app', 'Dockerfile.test')
 *   .withBuildArgs({ NODE_VERSION: '20' }).withTarget('test').withPullPolicy(PullPolicy.alwaysPull()).build();
 * await using app = await container.withExposedPorts(8080).start();
 * @typeParam C - the container type `build()` resolves with (`GenericContainer`)
 */
export class GenericContainerBuilder<C> {
  #buildArgs: Record<string, string> = {};
  #target: string | undefined;
  #cache = true;
  #pullPolicy: ImagePullPolicy | undefined;
  #secrets: Record<string, BuildSecret> = {};
  #platform: string | undefined;

  /** @internal Use `GenericContainer.fromDockerfile`. */
  constructor(
    private readonly context: string,
    private readonly dockerfileName: string,
    private readonly make: (image: string) => C,
  ) {}

  /** Values for the Dockerfile's ARGs (merged). */
  withBuildArgs(args: Record<string, string>): this {
    if (args === null || typeof args !== 'object') throw invalidArgument('buildArgs', args, 'an object of strings');
    this.#buildArgs = { ...this.#buildArgs, ...args };
    return this;
  }

  /** The stage to build; stages it does not need are skipped. */
  withTarget(target: string): this {
    this.#target = target;
    return this;
  }

  /** `false` runs every step again (the results still refresh the cache). @defaultValue true */
  withCache(cache: boolean): this {
    this.#cache = cache;
    return this;
  }

  /** `alwaysPull()` asks the registry again for every FROM image; the default uses the store when it has them. */
  withPullPolicy(policy: ImagePullPolicy): this {
    this.#pullPolicy = policy;
    return this;
  }

  /**
   * Secrets for `RUN --mount=type=secret,id=<id>` (merged), each from a file or an environment variable (a slipway
   * addition; `docker build --secret`). They are never stored in the image or the build cache.
   * @example
   * import { GenericContainer } from 'slipway/testcontainers';
   * const c = await GenericContainer.fromDockerfile('./app').withSecrets({ npmrc: { file: '/home/me/.npmrc' } }).build();
   */
  withSecrets(secrets: Record<string, BuildSecret>): this {
    if (secrets === null || typeof secrets !== 'object') throw invalidArgument('secrets', secrets, 'an object of { file } or { env }');
    this.#secrets = { ...this.#secrets, ...secrets };
    return this;
  }

  /** Accepted for compatibility: slipway's builder is always BuildKit-like (a no-op). */
  withBuildkit(): this {
    return this;
  }

  /**
   * The platform to build for (`docker build --platform`). slipway does not emulate other CPUs: a RUN in a stage for
   * another architecture fails; COPY-only stages and `FROM --platform=$BUILDPLATFORM` stages work.
   */
  withPlatform(platform: string): this {
    if (typeof platform !== 'string' || !platform) throw invalidArgument('platform', platform, 'a platform such as "linux/amd64"');
    this.#platform = platform;
    return this;
  }

  /**
   * Builds and resolves with a container of the image (tagged `image`, else `localhost/testcontainers/<uuid>`).
   * `deleteOnExit` is accepted; built images stay in slipway's store as build cache (`slipway prune` removes them).
   */
  async build(image?: string, _options: { deleteOnExit?: boolean } = {}): Promise<C> {
    const ref = await Container.fromDockerfile(this.context, {
      dockerfile: this.dockerfileName, buildArgs: this.#buildArgs, target: this.#target, cache: this.#cache, secrets: this.#secrets, platform: this.#platform,
      pullPolicy: this.#pullPolicy?.shouldPull() ? 'always' : 'missing',
      tag: image ?? `localhost/testcontainers/${randomUuid().slice(0, 12)}`,
    });
    return this.make(ref);
  }
}

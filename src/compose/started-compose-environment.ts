import { rm } from 'node:fs/promises';
import { SlipwayError, invalidArgument } from '../errors.js';
import { logger } from '../internal/debug.js';
import type { Network } from '../api/network.js';
import type { StartedContainer } from '../api/started-container.js';
import type { Volume } from '../api/volume.js';

const log = logger('compose');

/** @internal What up() made, in the order it made it. */
export interface ComposeResources {
  project: string;
  /** `<service>-<n>` → container. */
  containers: Map<string, StartedContainer>;
  networks: Network[];
  /** Volumes the project owns (not external ones). */
  volumes: Volume[];
  /** Host files and dirs of its own (secret and config values), removed after the containers. */
  files: string[];
}

/**
 * A running Compose project: its containers by `<service>-<n>`, and `down()`.
 * @example
 * import { ComposeEnvironment } from 'slipway';
 * await using env = await new ComposeEnvironment('./deploy').up();
 * const redis = env.getContainer('redis-1');
 */
export class StartedComposeEnvironment implements AsyncDisposable {
  readonly #r: ComposeResources;
  #down: Promise<void> | undefined;
  #volumesRemoved: Promise<void> | undefined;

  /** @internal */
  constructor(resources: ComposeResources) { this.#r = resources; }

  /** The project name (prefix of container, network and volume names). */
  get projectName(): string { return this.#r.project; }

  /** Every container, by `<service>-<n>`. */
  get containers(): ReadonlyMap<string, StartedContainer> { return this.#r.containers; }

  /**
   * A service replica's container: `api-1` (also `api_1`, `<project>-api-1`, or `api` when it has one replica).
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` naming the containers there are.
   */
  getContainer(name: string): StartedContainer {
    const p = `${this.#r.project}-`;
    const key = (name.startsWith(p) ? name.slice(p.length) : name).replace(/_(\d+)$/, '-$1');
    const found = this.#r.containers.get(key) ?? this.#r.containers.get(`${key}-1`);
    if (!found || (!/-\d+$/.test(key) && this.#r.containers.has(`${key}-2`))) {
      throw invalidArgument('compose container', name, `one of ${[...this.#r.containers.keys()].join(', ') || '(none started)'}`);
    }
    return found;
  }

  /**
   * Stops and removes every container (dependents first), then the project's networks, and with `removeVolumes` its
   * named and anonymous volumes (external ones are kept). Idempotent.
   * @param opts.timeout - Milliseconds between the stop signal and SIGKILL. @defaultValue each service's stop_grace_period, else 10000
   */
  async down(opts: { removeVolumes?: boolean; timeout?: number } = {}): Promise<void> {
    this.#down ??= this.#teardown(opts);
    await this.#down;
    if (opts.removeVolumes) {
      this.#volumesRemoved ??= this.#removeVolumes();
      await this.#volumesRemoved;
    }
  }

  async #removeVolumes(): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all(this.#r.volumes.map((v) => v.remove().catch((e) => errors.push(e))));
    this.#fail(errors);
  }

  #fail(errors: unknown[]): void {
    for (const e of errors) log('down %s: %O', this.#r.project, e);
    if (errors.length) {
      throw new SlipwayError('ERR_RUNTIME', `compose project ${this.#r.project}: ${errors.length} resource(s) could not be removed`, { cause: errors[0], hint: 'see DEBUG=slipway:compose for each error' });
    }
  }

  async #teardown(opts: { timeout?: number }): Promise<void> {
    const errors: unknown[] = [];
    const started = [...this.#r.containers.entries()];
    // Stopped together (each with its grace period), as `docker compose down` does within one dependency level; removing
    // them afterwards never kills a dependency under a dependent that is still shutting down.
    await Promise.all(started.map(([, c]) => c.stop({ timeout: opts.timeout }).catch((e) => errors.push(e))));
    await Promise.all(started.map(([, c]) => c.remove().catch((e) => errors.push(e))));
    await Promise.all(this.#r.networks.map((n) => n.remove().catch((e) => errors.push(e))));
    await Promise.all(this.#r.files.map((f) => rm(f, { recursive: true, force: true }).catch((e) => errors.push(e))));
    this.#fail(errors);
  }

  /** testcontainers' `stop()`: the same as `down()` without removing volumes. */
  async stop(opts: { timeout?: number } = {}): Promise<void> { await this.down({ timeout: opts.timeout }); }

  async [Symbol.asyncDispose](): Promise<void> { await this.down({ removeVolumes: true }); }
}

import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import {
  ServiceContainer, StartedServiceContainer, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 11211;

/** Memcached as a service module (shared by `slipway`'s {@link MemcachedContainer} and `slipway/testcontainers`'). */
export const memcachedService: ServiceDefinition<Record<string, never>> = {
  port: PORT,
  defaults: {},
  configure(c: Container): Container { return waitUnlessChosen(exposeUnlessPublished(c, PORT), Wait.forListeningPorts(PORT)); },
};

/** `host:port`, the server string `memjs.Client.create()` and most clients take. */
export function memcachedConnectionString(host: string, port: number): string { return `${host}:${port}`; }

/**
 * Memcached, published on a free host port and ready once it listens.
 *
 * @example
 * import memjs from 'memjs';
 * import { MemcachedContainer } from 'slipway';
 * await using cache = await new MemcachedContainer('memcached:1.6').start();
 * const client = memjs.Client.create(cache.getConnectionString());
 */
export class MemcachedContainer extends ServiceContainer<Record<string, never>, StartedMemcachedContainer> {
  protected readonly definition = memcachedService;

  /** @param image - @defaultValue 'memcached:1.6' */
  constructor(image = 'memcached:1.6', /** @internal */ state?: ModuleState<Record<string, never>>) {
    super(state ?? { container: moduleContainer(image), settings: memcachedService.defaults });
  }

  protected copy(state: ModuleState<Record<string, never>>): this {
    return new MemcachedContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedMemcachedContainer {
    return new StartedMemcachedContainer(started);
  }
}

/**
 * A started {@link MemcachedContainer}.
 * @example
 * import { MemcachedContainer } from 'slipway';
 * await using cache = await new MemcachedContainer('memcached:1.6').start();
 * cache.getConnectionString(); // '127.0.0.1:PORT'
 */
export class StartedMemcachedContainer extends StartedServiceContainer {
  /** The host port that reaches 11211. */
  getPort(): number { return this.getMappedPort(PORT); }
  /** `host:port`, the server string `memjs.Client.create()` and most clients take. */
  getConnectionString(): string { return memcachedConnectionString(this.getHost(), this.getPort()); }
}

/** A Memcached module under testcontainers' conventions (slipway's `MemcachedContainer`). */
import { memcachedConnectionString, memcachedService } from '../../modules/memcached.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * Memcached on 11211, ready once it listens. Every `with*` mutates and returns this builder.
 * @example
 * import memjs from 'memjs';
 * import { MemcachedContainer } from 'slipway/testcontainers';
 * await using cache = await new MemcachedContainer('memcached:1.6').start();
 * const client = memjs.Client.create(cache.getConnectionString());
 */
export class MemcachedContainer extends ServiceGenericContainer<Record<string, never>, StartedMemcachedContainer> {
  constructor(image: string) { super(image, memcachedService); }

  protected wrap(started: StartedTestContainer): StartedMemcachedContainer { return new StartedMemcachedContainer(started); }
}

/**
 * A started {@link MemcachedContainer}.
 * @example
 * import { MemcachedContainer } from 'slipway/testcontainers';
 * await using cache = await new MemcachedContainer('memcached:1.6').start();
 * cache.getConnectionString(); // '127.0.0.1:PORT'
 */
export class StartedMemcachedContainer extends AbstractStartedContainer {
  /** The host port that reaches 11211. */
  getPort(): number { return this.getMappedPort(memcachedService.port); }
  /** `host:port`, memjs' server string. */
  getConnectionString(): string { return memcachedConnectionString(this.getHost(), this.getPort()); }
}

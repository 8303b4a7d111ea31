import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';

const log = logger('runners');

/**
 * Anything a test-runner helper can tear down: slipway's `StartedContainer`, `Network` and `Volume`
 * and testcontainers-style handles (`[Symbol.asyncDispose]()` is preferred, else `stop()`), or a
 * plain function.
 * @example
 * ```ts
 * import { Network } from 'slipway';
 * import type { Teardownable } from 'slipway/vitest';
 * const network: Teardownable = await Network.create();
 * ```
 */
export type Teardownable = { [Symbol.asyncDispose](): PromiseLike<unknown> } | { stop(): PromiseLike<unknown> } | (() => unknown);

/**
 * What a global setup's callback gets (with `provide`), in `slipway/vitest` and `slipway/jest`.
 * @example
 * ```ts
 * import { RedisContainer } from 'slipway';
 * import { defineGlobalSetup } from 'slipway/vitest';
 * export default defineGlobalSetup(async ({ use, onTeardown }) => {
 *   const redis = await use(new RedisContainer().start());
 *   onTeardown(() => console.log(`removing ${redis.getConnectionUrl()}`));
 * });
 * ```
 */
export interface SetupScope {
  /**
   * Waits for a started resource and registers it for teardown (in reverse order of registration),
   * which also runs when a later setup step fails.
   * @example
   * ```ts
   * import { PostgreSqlContainer } from 'slipway';
   * import { defineGlobalSetup } from 'slipway/vitest';
   * export default defineGlobalSetup(async ({ use }) => {
   *   const pg = await use(new PostgreSqlContainer().start());
   *   console.log(pg.getConnectionUri());
   * });
   * ```
   */
  use<T extends Teardownable>(resource: T | PromiseLike<T>): Promise<T>;
  /**
   * Registers a function to run at teardown (in reverse order, with the resources of {@link SetupScope.use}).
   * @example
   * ```ts
   * import { createServer } from 'node:http';
   * import { defineGlobalSetup } from 'slipway/vitest';
   * export default defineGlobalSetup(({ onTeardown }) => {
   *   const server = createServer((_, res) => res.end('ok')).listen(0);
   *   onTeardown(() => server.close());
   * });
   * ```
   */
  onTeardown(fn: () => unknown): void;
}

/** A stack of teardowns: the helpers' guarantee that what a setup started is removed. @internal */
export class TeardownStack implements SetupScope {
  readonly #stack: (() => Promise<unknown>)[] = [];
  #closed = false;

  async use<T extends Teardownable>(resource: T | PromiseLike<T>): Promise<T> {
    const r = await resource;
    this.onTeardown(() => teardownOf(r));
    return r;
  }

  onTeardown(fn: () => unknown): void {
    if (this.#closed) throw new SlipwayError('ERR_INVALID_ARGUMENT', 'onTeardown after teardown', { hint: 'register resources inside the setup callback' });
    this.#stack.push(async () => fn());
  }

  /** Runs every teardown, last first; every one runs even when another fails. The errors are returned. */
  async close(): Promise<unknown[]> {
    this.#closed = true;
    const errors: unknown[] = [];
    while (this.#stack.length) {
      try {
        await this.#stack.pop()!();
      } catch (e) {
        log('teardown failed: %s', (e as Error)?.message ?? e);
        errors.push(e);
      }
    }
    return errors;
  }

  /** {@link TeardownStack.close}, throwing the first error (with the count of the others). */
  async closeOrThrow(): Promise<void> {
    const errors = await this.close();
    if (!errors.length) return;
    throw new SlipwayError('ERR_RUNTIME', `teardown failed for ${errors.length} resource(s): ${(errors[0] as Error)?.message ?? errors[0]}`, {
      cause: errors[0], hint: 'the containers die with the test run anyway; run with DEBUG=slipway:* to see each failure',
    });
  }

  /** Runs `setup` with this stack; when it throws, tears down what it registered (logging those errors) and rethrows. */
  async run(setup: (scope: this) => unknown): Promise<void> {
    try {
      await setup(this);
    } catch (e) {
      for (const te of await this.close()) console.warn(`slipway: teardown after a failed setup also failed: ${(te as Error)?.message ?? te}`);
      throw e;
    }
  }
}

async function teardownOf(r: Teardownable): Promise<void> {
  if (typeof r === 'function') await r();
  else if (Symbol.asyncDispose in r && typeof r[Symbol.asyncDispose] === 'function') await r[Symbol.asyncDispose]();
  else if ('stop' in r && typeof r.stop === 'function') await r.stop();
}

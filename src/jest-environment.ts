/**
 * `slipway/jest/environment`: jest's `node` test environment plus slipway's per-file guarantees. It
 * hands the values of the run's global setup to `inject` (from `slipway/jest`) without a file read per module, and
 * removes what `useContainer` started in the test file when the environment is torn down, even if
 * jest skipped `afterAll` (a file that failed to load).
 *
 * Needs `jest-environment-node` (installed with jest), an optional peer dependency.
 * @example
 * ```js
 * // jest.config.cjs
 * module.exports = { testEnvironment: 'slipway/jest/environment' };
 * ```
 * @packageDocumentation
 */
import { TestEnvironment } from 'jest-environment-node';
import { CONTEXT_ENV, readContext } from './runners/jest-context.js';
import { TeardownStack } from './runners/scope.js';

/**
 * The test environment class (the module's default export, which jest loads).
 * @example
 * ```js
 * // a custom environment on top of slipway's
 * const SlipwayEnvironment = require('slipway/jest/environment').default;
 * module.exports = class extends SlipwayEnvironment {};
 * ```
 */
export default class SlipwayEnvironment extends TestEnvironment {
  readonly #scope = new TeardownStack();

  /**
   * Sets up jest's node environment, then slipway's globals for `inject` and `useContainer`.
   * @example
   * ```js
   * const SlipwayEnvironment = require('slipway/jest/environment').default;
   * module.exports = class extends SlipwayEnvironment {
   *   async setup() { await super.setup(); this.global.startedAt = Date.now(); }
   * };
   * ```
   */
  override async setup(): Promise<void> {
    await super.setup();
    const g = this.global as unknown as Record<string, unknown>;
    if (process.env[CONTEXT_ENV]) g.__SLIPWAY_JEST_CONTEXT__ = readContext();
    g.__SLIPWAY_FILE_SCOPE__ = { onTeardown: (fn: () => unknown) => this.#scope.onTeardown(fn) };
  }

  /**
   * Removes what the file's `useContainer` calls left, then tears jest's environment down.
   * @example
   * ```js
   * const SlipwayEnvironment = require('slipway/jest/environment').default;
   * module.exports = class extends SlipwayEnvironment {
   *   async teardown() { console.log('file done'); await super.teardown(); }
   * };
   * ```
   */
  override async teardown(): Promise<void> {
    try {
      for (const e of await this.#scope.close()) console.warn(`slipway: removing a test file's container failed: ${(e as Error)?.message ?? e}`);
    } finally {
      await super.teardown();
    }
  }
}

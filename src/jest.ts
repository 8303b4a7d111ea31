/**
 * slipway for jest: containers started once in `globalSetup`, handed to the tests (which run in other
 * processes) with `provide`/`inject`, removed in `globalTeardown`; or once per test file with
 * {@link useContainer}. The values cross jest's process boundary in a file in the keeper's private
 * state dir (0600 in a 0700 dir, removed with the keeper), named by an environment variable.
 * Works from CommonJS (`require('slipway/jest')`) and ESM.
 *
 * jest is an optional peer dependency: this entry point imports nothing from it.
 *
 * @example
 * ```js
 * // jest.config.cjs
 * module.exports = { globalSetup: './global-setup.cjs', globalTeardown: './global-teardown.cjs', testEnvironment: 'slipway/jest/environment' };
 * // global-setup.cjs
 * const { RedisContainer } = require('slipway');
 * const { defineGlobalSetup } = require('slipway/jest');
 * module.exports = defineGlobalSetup(async ({ use, provide }) => {
 *   const redis = await use(new RedisContainer().start());
 *   provide('redisPort', redis.getMappedPort(6379));
 * });
 * // global-teardown.cjs
 * module.exports = require('slipway/jest').globalTeardown;
 * // redis.test.cjs
 * const { expect, test } = require('@jest/globals'); // or jest's injected globals
 * const { inject } = require('slipway/jest');
 * test('port', () => expect(inject('redisPort')).toBeGreaterThan(0));
 * ```
 * @packageDocumentation
 */
import { SlipwayError } from './errors.js';
import { markRunRoot } from './runtime/index.js';
import { CONTEXT_ENV, readContext, removeContext, writeContext } from './runners/jest-context.js';
import { TeardownStack, type SetupScope, type Teardownable } from './runners/scope.js';

export type { SetupScope, Teardownable } from './runners/scope.js';

/**
 * The values a global setup provides, by key. Extend it to type {@link inject} and `provide`:
 * @example
 * ```ts
 * import type {} from 'slipway/jest';
 * declare module 'slipway/jest' {
 *   interface ProvidedContext { redisPort: number }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProvidedContext {}

/**
 * The key type {@link inject} and `provide` accept: the keys of {@link ProvidedContext}, or any string while it is empty.
 * @example
 * ```ts
 * import type { ProvidedKey } from 'slipway/jest';
 * const key: ProvidedKey = 'redisUrl';
 * ```
 */
export type ProvidedKey = keyof ProvidedContext extends never ? string : keyof ProvidedContext & string;
/**
 * The value type for a key of {@link ProvidedContext} (`unknown` for keys it does not declare).
 * @example
 * ```ts
 * import { inject, type ProvidedValue } from 'slipway/jest';
 * const url: ProvidedValue<'redisUrl'> = inject('redisUrl');
 * ```
 */
export type ProvidedValue<K extends string> = K extends keyof ProvidedContext ? ProvidedContext[K] : unknown;

/**
 * What the callback of {@link defineGlobalSetup} gets.
 * @example
 * ```ts
 * import { defineGlobalSetup, type JestSetupContext } from 'slipway/jest';
 * async function setup({ provide }: JestSetupContext): Promise<void> {
 *   provide('startedAt', Date.now());
 * }
 * module.exports = defineGlobalSetup(setup);
 * ```
 */
export interface JestSetupContext extends SetupScope {
  /**
   * Hands a JSON-serialisable value to the tests (read there with {@link inject}).
   * @example
   * ```ts
   * import { RedisContainer } from 'slipway';
   * import { defineGlobalSetup } from 'slipway/jest';
   * module.exports = defineGlobalSetup(async ({ use, provide }) => {
   *   const redis = await use(new RedisContainer().start());
   *   provide('redisUrl', redis.getConnectionUrl());
   * });
   * ```
   */
  provide<K extends ProvidedKey>(key: K, value: ProvidedValue<K>): void;
}

/**
 * A jest `globalSetup` function (jest passes its global and project configs, unused here).
 * @example
 * ```ts
 * import { defineGlobalSetup, type JestGlobalSetup } from 'slipway/jest';
 * const setup: JestGlobalSetup = defineGlobalSetup(() => {});
 * module.exports = setup;
 * ```
 */
export type JestGlobalSetup = (globalConfig?: unknown, projectConfig?: unknown) => Promise<void>;

interface SetupState { stack: TeardownStack; contextFile?: string }
const STATE = Symbol.for('slipway.jest.globalSetup');
type StateHolder = { [STATE]?: SetupState };

/**
 * Makes a jest `globalSetup` (export it as the module): marks jest's main process as the root of the
 * run (the containers of its workers die with it), runs `setup`, writes what it provides for
 * {@link inject}, and keeps what it registered with `use`/`onTeardown` for {@link globalTeardown}.
 * When `setup` throws, what it started so far is torn down before the error reaches jest.
 * @example
 * ```js
 * const { PostgreSqlContainer } = require('slipway');
 * const { defineGlobalSetup } = require('slipway/jest');
 * module.exports = defineGlobalSetup(async ({ use, provide }) => {
 *   const pg = await use(new PostgreSqlContainer().start());
 *   provide('databaseUrl', pg.getConnectionUri());
 * });
 * ```
 */
export function defineGlobalSetup(setup: (ctx: JestSetupContext) => unknown): JestGlobalSetup {
  return async () => {
    markRunRoot();
    const stack = new TeardownStack();
    const values: Record<string, unknown> = {};
    const ctx: JestSetupContext = {
      use: (r) => stack.use(r),
      onTeardown: (fn) => stack.onTeardown(fn),
      provide: (key, value) => {
        if (value === undefined) throw new SlipwayError('ERR_INVALID_ARGUMENT', `provide('${key}'): the value is undefined`, { hint: 'provide a JSON-serialisable value' });
        values[key] = value;
      },
    };
    await stack.run(async () => {
      await setup(ctx);
      if (!Object.keys(values).length) return;
      const file = await writeContext(values);
      stack.onTeardown(() => removeContext(file));
      process.env[CONTEXT_ENV] = file;
    });
    // globalSetup and globalTeardown run in jest's main process, but may load this module twice.
    (globalThis as StateHolder)[STATE] = { stack };
  };
}

/**
 * jest's `globalTeardown` for {@link defineGlobalSetup}: removes what the setup registered, last first
 * (each is tried even when another fails).
 * @throws SlipwayError `ERR_RUNTIME` when a resource could not be removed.
 * @example
 * ```js
 * // global-teardown.cjs
 * module.exports = require('slipway/jest').globalTeardown;
 * ```
 */
export async function globalTeardown(): Promise<void> {
  const holder = globalThis as StateHolder;
  const state = holder[STATE];
  delete holder[STATE];
  delete process.env[CONTEXT_ENV];
  await state?.stack.closeOrThrow();
}

let cached: Record<string, unknown> | undefined;

/**
 * A value that the global setup provided, in any test file (any worker).
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` when no global setup provided `key`.
 * @example
 * ```ts
 * import { inject } from 'slipway/jest';
 * const url = inject('databaseUrl');
 * ```
 */
export function inject<K extends ProvidedKey>(key: K): ProvidedValue<K> {
  const fromEnv = (globalThis as { __SLIPWAY_JEST_CONTEXT__?: Record<string, unknown> }).__SLIPWAY_JEST_CONTEXT__;
  cached ??= fromEnv ?? readContext() ?? {};
  if (!(key in cached)) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `inject('${key}'): the global setup provided no such value (${Object.keys(cached).join(', ') || 'none'})`, {
      hint: "call provide(key, value) in a globalSetup made with defineGlobalSetup from 'slipway/jest', and name that file in jest's globalSetup",
    });
  }
  return cached[key] as ProvidedValue<K>;
}

type Hook = (fn: () => unknown, timeout?: number) => void;

/**
 * Starts a container (or any {@link Teardownable}) before the test file's tests and removes it after
 * them, also when tests fail. Call it at the top of a test file; read the result inside tests. With the
 * `slipway/jest/environment` test environment, the environment's teardown also removes it should
 * jest skip `afterAll`.
 * @param start starts the resource, e.g. `() => new RedisContainer().start()`.
 * @param opts.timeout the `beforeAll` timeout in ms. @defaultValue 120000
 * @returns a function that gives the started resource (throws before `beforeAll` ran).
 * @example
 * ```js
 * const { expect, test } = require('@jest/globals'); // or jest's injected globals
 * const { RedisContainer } = require('slipway');
 * const { useContainer } = require('slipway/jest');
 * const redis = useContainer(() => new RedisContainer().start());
 * test('pings', async () => {
 *   expect((await redis().exec(['redis-cli', 'ping'])).stdout.trim()).toBe('PONG');
 * });
 * ```
 */
export function useContainer<T extends Teardownable>(start: () => PromiseLike<T>, opts: { timeout?: number } = {}): () => T {
  const g = globalThis as { beforeAll?: Hook; afterAll?: Hook; __SLIPWAY_FILE_SCOPE__?: TeardownStackLike };
  if (typeof g.beforeAll !== 'function' || typeof g.afterAll !== 'function') {
    throw new SlipwayError('ERR_RUNTIME', 'useContainer() needs jest\'s beforeAll/afterAll globals', { hint: 'call it at the top of a jest test file (with injectGlobals, the default)' });
  }
  const stack = new TeardownStack();
  let value: T | undefined;
  g.__SLIPWAY_FILE_SCOPE__?.onTeardown(() => stack.close());
  g.beforeAll(async () => { value = await stack.use(start()); }, opts.timeout ?? 120_000);
  g.afterAll(() => stack.closeOrThrow());
  return () => {
    if (value === undefined) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', 'useContainer(): read the container inside a test or hook (it starts in beforeAll)', { hint: 'call the returned function inside test(), not at the top of the file' });
    return value;
  };
}

/** The part of a teardown stack the test environment shares with test files. */
interface TeardownStackLike { onTeardown(fn: () => unknown): void }

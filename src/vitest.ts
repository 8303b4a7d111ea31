/**
 * slipway for vitest: containers started once for the whole run in a `globalSetup` file and handed to
 * tests with vitest's `provide`/`inject`, or once per test file as a fixture. Either way teardown is
 * guaranteed — after the run, after a failed setup step, and when the run's main process is killed
 * (its forked workers' containers go with it).
 *
 * vitest (>= 3.2) is an optional peer dependency: this entry point imports nothing from it at run time.
 *
 * @example
 * ```ts
 * // global-setup.ts — in vitest.config.ts: test: { globalSetup: ['./global-setup.ts'] }
 * import { PostgreSqlContainer } from 'slipway';
 * import { defineGlobalSetup } from 'slipway/vitest';
 *
 * declare module 'vitest' {
 *   export interface ProvidedContext { databaseUrl: string }
 * }
 *
 * export default defineGlobalSetup(async ({ use, provide }) => {
 *   const pg = await use(new PostgreSqlContainer().start());
 *   provide('databaseUrl', pg.getConnectionUri());
 * });
 *
 * // db.test.ts
 * import { expect, inject, test } from 'vitest';
 * test('connects', () => { expect(inject('databaseUrl')).toMatch(/^postgres/); });
 * ```
 * @packageDocumentation
 */
import type { ProvidedContext } from 'vitest';
import type { TestProject } from 'vitest/node';
import { markRunRoot } from './runtime/index.js';
import { TeardownStack, type SetupScope, type Teardownable } from './runners/scope.js';

export type { SetupScope, Teardownable } from './runners/scope.js';

/**
 * What the callback of {@link defineGlobalSetup} gets.
 * @example
 * ```ts
 * import { defineGlobalSetup, type VitestSetupContext } from 'slipway/vitest';
 * async function setup({ provide }: VitestSetupContext): Promise<void> {
 *   provide('startedAt' as never, Date.now() as never);
 * }
 * export default defineGlobalSetup(setup);
 * ```
 */
export interface VitestSetupContext extends SetupScope {
  /**
   * Hands a value to the tests (read there with `inject(key)` from vitest); typed by vitest's
   * `ProvidedContext`, which you extend with `declare module 'vitest'`.
   * @example
   * ```ts
   * import { RedisContainer } from 'slipway';
   * import { defineGlobalSetup } from 'slipway/vitest';
   * declare module 'vitest' {
   *   export interface ProvidedContext { redisUrl: string }
   * }
   * export default defineGlobalSetup(async ({ use, provide }) => {
   *   const redis = await use(new RedisContainer().start());
   *   provide('redisUrl', redis.getConnectionUrl());
   * });
   * ```
   */
  provide<K extends keyof ProvidedContext & string>(key: K, value: ProvidedContext[K]): void;
  /** vitest's project, for anything else (its config, `onTestsRerun`). */
  project: TestProject;
}

/**
 * A vitest `globalSetup` function: its return value is the teardown.
 * @example
 * ```ts
 * import { defineGlobalSetup, type VitestGlobalSetup } from 'slipway/vitest';
 * const setup: VitestGlobalSetup = defineGlobalSetup(() => {});
 * export default setup;
 * ```
 */
export type VitestGlobalSetup = (project: TestProject) => Promise<() => Promise<void>>;

/**
 * Makes a vitest `globalSetup` (export it as the file's default): marks the main process as the root
 * of the run (so the containers of forked workers die with it, see {@link markTestRun}), runs `setup`
 * once before all test files, and tears down everything registered with `use`/`onTeardown` after the
 * run, in reverse order. When `setup` throws, what it started so far is torn down before the error
 * reaches vitest.
 *
 * @throws SlipwayError `ERR_RUNTIME` at teardown when a resource could not be removed (every one is tried).
 * @example
 * ```ts
 * import { RedisContainer } from 'slipway';
 * import { defineGlobalSetup } from 'slipway/vitest';
 *
 * declare module 'vitest' {
 *   export interface ProvidedContext { redis: { host: string; port: number } }
 * }
 *
 * export default defineGlobalSetup(async ({ use, provide }) => {
 *   const redis = await use(new RedisContainer().start());
 *   provide('redis', { host: redis.host, port: redis.getMappedPort(6379) });
 * });
 * ```
 */
export function defineGlobalSetup(setup: (ctx: VitestSetupContext) => unknown): VitestGlobalSetup {
  return async (project) => {
    markTestRun();
    const stack = new TeardownStack();
    const ctx: VitestSetupContext = {
      use: (r) => stack.use(r),
      onTeardown: (fn) => stack.onTeardown(fn),
      provide: (key, value) => project.provide(key, value),
      project,
    };
    await stack.run(() => setup(ctx));
    return () => stack.closeOrThrow();
  };
}

/**
 * The smallest global setup: no containers, only {@link markTestRun}, so containers that test files
 * start in forked workers are removed when the run's main process dies however the workers were made.
 * Use it as `globalSetup: ['slipway/vitest']` or re-export it from your own file.
 * @example
 * ```ts
 * // vitest.config.ts
 * import { defineConfig } from 'vitest/config';
 * export default defineConfig({ test: { globalSetup: ['slipway/vitest'] } });
 * ```
 */
export default function globalSetup(): void {
  markTestRun();
}

/**
 * Marks this process as the root of a test run: a keeper started by any process that inherits the
 * environment afterwards (the runner's workers) removes its containers when this process dies. It
 * sets `SLIPWAY_RUN_PID` (kept if already set). {@link defineGlobalSetup} calls it; forked vitest and
 * jest workers are also recognised without it.
 * @example
 * ```ts
 * import { markTestRun } from 'slipway/vitest';
 * markTestRun(); // in a custom runner's main process, before it forks workers
 * ```
 */
export function markTestRun(): void {
  markRunRoot();
}

/**
 * A vitest fixture tuple for `test.extend`, as {@link containerFixture} makes it.
 * @example
 * ```ts
 * import { Container, type StartedContainer } from 'slipway';
 * import { containerFixture, type ContainerFixture } from 'slipway/vitest';
 * const box: ContainerFixture<StartedContainer> = containerFixture(() => new Container('busybox').start());
 * ```
 */
export type ContainerFixture<T> = [(context: object, use: (value: T) => Promise<void>) => Promise<void>, { scope: 'file' | 'worker' | 'test' }];

/**
 * A vitest fixture (`test.extend`) that starts a container for each test file that uses it (or
 * worker/test, with `scope`) and removes it after the file, also when a test fails.
 * @param start starts the resource, e.g. `() => new RedisContainer().start()`.
 * @param opts.scope vitest's fixture scope. @defaultValue `'file'`
 * @example
 * ```ts
 * import { test as base, expect } from 'vitest';
 * import { RedisContainer, type StartedRedisContainer } from 'slipway';
 * import { containerFixture } from 'slipway/vitest';
 *
 * const test = base.extend<{ redis: StartedRedisContainer }>({
 *   redis: containerFixture(() => new RedisContainer().start()),
 * });
 * test('pings', async ({ redis }) => {
 *   expect((await redis.exec(['redis-cli', 'ping'])).stdout.trim()).toBe('PONG');
 * });
 * ```
 */
export function containerFixture<T extends Teardownable>(start: () => PromiseLike<T>, opts: { scope?: 'file' | 'worker' | 'test' } = {}): ContainerFixture<T> {
  // vitest reads a fixture's first parameter from its source text: it must be an object pattern.
  const fixture = async ({}: object, use: (value: T) => Promise<void>): Promise<void> => {
    const stack = new TeardownStack();
    try {
      await use(await stack.use(start()));
    } finally {
      await stack.closeOrThrow();
    }
  };
  return [fixture, { scope: opts.scope ?? 'file' }];
}

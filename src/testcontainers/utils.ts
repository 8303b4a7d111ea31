/** testcontainers' public utilities (`RandomUuid`, `randomUuid`). */
import { randomUUID } from 'node:crypto';

/**
 * testcontainers' `Uuid`: a source of unique names.
 * @example
 * import { Network, type Uuid } from 'slipway/testcontainers';
 * let n = 0;
 * const sequential: Uuid = { nextUuid: () => `net-${++n}` };
 * await using network = await new Network(sequential).start(); // named net-1
 */
export interface Uuid {
  nextUuid(): string;
}

/**
 * testcontainers' `RandomUuid`: 12 random hex characters per call (usable as a container or network name).
 * @example
 * import { GenericContainer, RandomUuid } from 'slipway/testcontainers';
 * const uuid = new RandomUuid();
 * new GenericContainer('redis:7').withName(`redis-${uuid.nextUuid()}`);
 */
export class RandomUuid implements Uuid {
  nextUuid(): string { return randomUUID().replace(/-/g, '').slice(0, 12); }
}

/**
 * testcontainers' `randomUuid()`: `new RandomUuid().nextUuid()`.
 * @example
 * import { randomUuid } from 'slipway/testcontainers';
 * const name = `test-${randomUuid()}`; // e.g. test-3f9c1a2b7d4e
 */
export const randomUuid = (): string => new RandomUuid().nextUuid();

/**
 * testcontainers' `Retry`: calls `fn` until `predicate` accepts its result, or returns `onTimeout()` once
 * `timeoutMs` has passed.
 * @example
 * import { IntervalRetry, type Retry } from 'slipway/testcontainers';
 * const retry: Retry<number, never> = new IntervalRetry<number, never>(100);
 */
export interface Retry<T, U> {
  retryUntil(fn: (attempt: number) => Promise<T>, predicate: (result: T) => boolean | Promise<boolean>, onTimeout: () => U, timeoutMs: number): Promise<T | U>;
}

/**
 * testcontainers' `IntervalRetry`: a {@link Retry} that waits `intervalMs` between attempts (for module authors'
 * own start-up checks). `fn` runs at least once; its rejection ends the retry with that error.
 * @example
 * import { IntervalRetry } from 'slipway/testcontainers';
 * const ready = await new IntervalRetry<boolean, boolean>(250).retryUntil(
 *   async () => (await fetch('http://127.0.0.1:8080/health')).ok, (ok) => ok, () => false, 10_000);
 */
export class IntervalRetry<T, U> implements Retry<T, U> {
  /** @param intervalMs - pause between attempts */
  constructor(private readonly intervalMs: number) {}

  async retryUntil(fn: (attempt: number) => Promise<T>, predicate: (result: T) => boolean | Promise<boolean>, onTimeout: () => U, timeoutMs: number): Promise<T | U> {
    const start = performance.now();
    let attempt = 0;
    let result = await fn(attempt++);
    while (!(await predicate(result))) {
      if (performance.now() - start > timeoutMs) return onTimeout();
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      result = await fn(attempt++);
    }
    return result;
  }
}

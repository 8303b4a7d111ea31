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

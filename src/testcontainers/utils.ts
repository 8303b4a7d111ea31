/** testcontainers' public utilities (`RandomUuid`, `randomUuid`). */
import { randomUUID } from 'node:crypto';

/** testcontainers' `Uuid`: a source of unique names. */
export interface Uuid {
  nextUuid(): string;
}

/** testcontainers' `RandomUuid`: 12 random hex characters per call (usable as a container or network name). */
export class RandomUuid implements Uuid {
  nextUuid(): string { return randomUUID().replace(/-/g, '').slice(0, 12); }
}

/** testcontainers' `randomUuid()`: `new RandomUuid().nextUuid()`. */
export const randomUuid = (): string => new RandomUuid().nextUuid();

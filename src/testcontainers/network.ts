/** testcontainers' `Network` / `StartedNetwork` over slipway's {@link ApiNetwork}. */
import { Network as ApiNetwork } from '../api/network.js';
import { RandomUuid, type Uuid } from './utils.js';

/**
 * testcontainers' `Network`: `await new Network().start()` creates a user network named by a random id (or by
 * `uuid.nextUuid()`); the result is a {@link StartedNetwork} for `withNetwork(network)`, and its name works with
 * `withNetworkMode(network.getName())`. `stop()` removes it (also `await using`).
 */
export class Network extends ApiNetwork {
  constructor(uuid: Uuid = new RandomUuid()) {
    super({ name: uuid.nextUuid() });
  }
}

/** testcontainers' `StartedNetwork`: what `new Network().start()` gives (`getId()`, `getName()`, `stop()`). */
export type StartedNetwork = Network;

/** testcontainers' `Network` / `StartedNetwork` over slipway's {@link ApiNetwork}. */
import { Network as ApiNetwork } from '../api/network.js';
import { RandomUuid, type Uuid } from './utils.js';

/**
 * testcontainers' `Network`: `await new Network().start()` creates a user network named by a random id (or by
 * `uuid.nextUuid()`); the result is a {@link StartedNetwork} for `withNetwork(network)`, and its name works with
 * `withNetworkMode(network.getName())`. `stop()` removes it (also `await using`).
 * @example
 * import { GenericContainer, Network } from 'slipway/testcontainers';
 * await using network = await new Network().start();
 * await using db = await new GenericContainer('postgres:16').withNetwork(network).withNetworkAliases('db')
 *   .withEnvironment({ POSTGRES_PASSWORD: 'pw' }).start();
 */
export class Network extends ApiNetwork {
  constructor(uuid: Uuid = new RandomUuid()) {
    super({ name: uuid.nextUuid() });
  }
}

/** testcontainers' `StartedNetwork`: what `new Network().start()` gives (`getId()`, `getName()`, `stop()`). */
export type StartedNetwork = Network;

import { SlipwayError, invalidArgument } from '../../errors.js';
import type { Keeper } from './keeper.js';
import { KeeperError } from './keeper-error.js';

/** The keeper calls this file needs (a fake in unit tests). */
export type NetworkKeeper = Pick<Keeper, 'createNetwork' | 'removeNetwork' | 'attachNetwork'>;

/** One container's place on a {@link KeeperNetwork}. */
export interface NetworkEndpoint {
  containerId: string;
  /** The container's address on the network, e.g. `10.89.3.2`. */
  ip: string;
  /** Always 24. */
  prefix: number;
  /** The interface inside the container (`eth1`, `eth2`… in attach order). */
  ifname: string;
}

const PREFIX = 24;
/**
 * Every network's subnet: unreachable in every isolated container (set at create) except through its
 * own networks' /24s, so no packet for a user network leaves through slirp4netns/pasta.
 */
export const USER_NETWORKS_CIDR = '10.89.0.0/16';
/** .0 is the network, .1 is kept free (no gateway today, maybe one later), .255 broadcast. */
const FIRST_HOST = 2;
const LAST_HOST = 254;

/** Subnet indexes in use, per keeper (a replaced keeper starts empty, as its namespaces died with the old one). */
const usedIndexes = new WeakMap<object, Set<number>>();

let seq = 0;

/**
 * A user network owned by a keeper: 10.89.n.0/24 in a network namespace with a bridge. Picks the
 * subnet (unique per keeper) and container addresses (.2 upwards); the keeper does the wiring.
 * Names and aliases are not resolved here: write them into each container's /etc/hosts.
 * Attached containers get an `unreachable` route for 10.89.0.0/16, so addresses of other
 * networks fail at once instead of leaving through the outbound interface.
 *
 * @example
 * const net = await KeeperNetwork.create(keeper);
 * await keeper.createContainer(spec);
 * const { ip } = await net.attach(spec.id);   // before startContainer()
 * await keeper.startContainer(spec.id);
 * // …
 * net.detach(spec.id);                        // when the container is removed
 * await net.remove();
 */
export class KeeperNetwork {
  /** The id the keeper knows the network by. */
  readonly id: string;
  /** The n of 10.89.n.0/24. */
  readonly subnetIndex: number;
  /** e.g. `10.89.3.0/24`. */
  readonly subnet: string;

  readonly #keeper: NetworkKeeper;
  readonly #endpoints = new Map<string, NetworkEndpoint>();
  readonly #pending = new Set<number>();
  #removed: Promise<void> | undefined;

  private constructor(keeper: NetworkKeeper, id: string, index: number) {
    this.#keeper = keeper;
    this.id = id;
    this.subnetIndex = index;
    this.subnet = `10.89.${index}.0/${PREFIX}`;
  }

  /**
   * Creates a network in `keeper` with the lowest free subnet index.
   * @param opts.id - The keeper-side id. @defaultValue `net-<pid>-<n>`
   * @throws SlipwayError ERR_NETWORK when all 256 subnets of this keeper are in use, or the keeper
   *   cannot create the namespace (with the stage and a hint).
   */
  static async create(keeper: NetworkKeeper, opts: { id?: string } = {}): Promise<KeeperNetwork> {
    const id = opts.id ?? `net-${process.pid}-${++seq}`;
    if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) throw invalidArgument('id', id, 'letters, digits, "_", "." or "-" (at most 128)');
    let used = usedIndexes.get(keeper);
    if (!used) usedIndexes.set(keeper, (used = new Set()));
    for (let index = 0; index <= 255; index++) {
      if (used.has(index)) continue;
      used.add(index);
      try {
        await keeper.createNetwork(id, index);
        return new KeeperNetwork(keeper, id, index);
      } catch (e) {
        // Taken by a network made with the raw keeper call: keep it marked and try the next one.
        if (KeeperError.isKind(e, 'subnet-in-use')) continue;
        used.delete(index);
        throw e;
      }
    }
    throw new SlipwayError('ERR_NETWORK', 'every subnet (10.89.0.0/24 to 10.89.255.0/24) of this process is in use', { hint: 'remove networks you no longer need (network.remove() or `await using`)' });
  }

  /** Containers attached and not detached, by container id. */
  get endpoints(): ReadonlyMap<string, NetworkEndpoint> {
    return this.#endpoints;
  }

  /**
   * Attaches a created container (call it before starting it) with the next free address.
   * @throws SlipwayError ERR_NETWORK when the network was removed, is full (253 containers), or
   *   the keeper fails; ERR_INVALID_ARGUMENT when the container is already attached.
   */
  async attach(containerId: string): Promise<NetworkEndpoint> {
    if (this.#removed) throw new SlipwayError('ERR_NETWORK', `network ${this.id} was removed`, { hint: 'create a new network' });
    if (this.#endpoints.has(containerId)) throw invalidArgument('containerId', containerId, `a container not yet on network ${this.id}`);
    const taken = new Set([...this.#endpoints.values()].map((e) => Number(e.ip.split('.')[3])));
    let host = FIRST_HOST;
    while (host <= LAST_HOST && (taken.has(host) || this.#pending.has(host))) host++;
    if (host > LAST_HOST) throw new SlipwayError('ERR_NETWORK', `network ${this.id} is full (${LAST_HOST - FIRST_HOST + 1} containers)`, { hint: 'spread the containers over more networks' });
    const ip = `10.89.${this.subnetIndex}.${host}`;
    this.#pending.add(host);
    try {
      const ifname = await this.#keeper.attachNetwork(containerId, this.id, ip, PREFIX, { unreachable: [USER_NETWORKS_CIDR] });
      const ep = { containerId, ip, prefix: PREFIX, ifname };
      this.#endpoints.set(containerId, ep);
      return ep;
    } finally {
      this.#pending.delete(host);
    }
  }

  /** Forgets a container's endpoint (its interface goes away with the container); frees the address. */
  detach(containerId: string): void {
    this.#endpoints.delete(containerId);
  }

  /** Removes the network in the keeper; attached containers lose their interface on it. Idempotent. */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      this.#endpoints.clear();
      try {
        await this.#keeper.removeNetwork(this.id);
      } finally {
        usedIndexes.get(this.#keeper)?.delete(this.subnetIndex);
      }
    })();
    return this.#removed;
  }
}

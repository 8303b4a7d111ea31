import { randomBytes } from 'node:crypto';
import { SlipwayError, invalidArgument } from '../errors.js';
import { logger } from '../internal/debug.js';
import { createUserNetwork, type NetworkAttachable, type NetworkMember, type UserNetwork } from '../runtime/index.js';

const log = logger('network');

/**
 * A user network: containers joined with `withNetwork(net, { aliases })` reach each other by name,
 * hostname and alias on their own ports; containers on other networks cannot reach them.
 * @example
 * import { Container, Network } from 'slipway';
 * await using net = await Network.create();
 * await using db = await new Container('postgres:16').withNetwork(net, { aliases: ['db'] }).start();
 * await using app = await new Container('my-app').withNetwork(net).withEnv({ DB_HOST: 'db' }).start();
 */
export class Network implements AsyncDisposable, NetworkAttachable {
  /** Started and not yet removed networks of this process, by name (Docker resolves `--network <name>` the same way). */
  static readonly #live = new Map<string, Network>();
  readonly id: string;
  readonly name: string;
  #net: Promise<UserNetwork> | undefined;
  readonly #members = new Map<string, { member: NetworkMember; ip: string }>();
  #removed: Promise<void> | undefined;

  constructor(opts: { name?: string } = {}) {
    if (opts.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(opts.name)) {
      throw invalidArgument('network name', opts.name, 'letters, digits, "_", "." or "-" (at most 64)');
    }
    this.id = randomBytes(16).toString('hex');
    this.name = opts.name ?? `slipway-net-${this.id.slice(0, 12)}`;
  }

  /** Creates a network (its namespace and bridge live in this process's keeper). */
  static async create(opts: { name?: string } = {}): Promise<Network> { return new Network(opts).start(); }

  /** Creates the network now rather than on first use; returns this (testcontainers' `new Network().start()`). */
  async start(): Promise<this> {
    await this.#ensure();
    return this;
  }

  #ensure(): Promise<UserNetwork> {
    if (this.#removed) return Promise.reject(new SlipwayError('ERR_NETWORK', `network ${this.name} was removed`, { hint: 'create a new Network' }));
    if (!this.#net) {
      const other = Network.#live.get(this.name);
      if (other && other !== this) {
        return Promise.reject(new SlipwayError('ERR_INVALID_ARGUMENT', `a network named ${this.name} already exists in this process`, { hint: 'choose another name, or remove the other network first' }));
      }
      Network.#live.set(this.name, this);
      this.#net = createUserNetwork(`n${this.id.slice(0, 24)}`, this.name);
      this.#net.catch(() => { if (Network.#live.get(this.name) === this) Network.#live.delete(this.name); });
    }
    return this.#net;
  }

  /**
   * The started, not yet removed network of this process with this name (as `docker run --network <name>` finds it).
   * @example
   * import { Container, Network } from 'slipway';
   * new Container('redis:7').withNetwork(Network.byName('backend')!);
   */
  static byName(name: string): Network | undefined { return Network.#live.get(name); }

  /** @internal */
  async attach(member: NetworkMember): Promise<{ ip: string }> {
    const net = await this.#ensure();
    const { ip } = await net.attach(member.containerId, member.names);
    this.#members.set(member.containerId, { member, ip });
    await this.#refreshAll();
    return { ip };
  }

  /** @internal */
  async detach(containerId: string): Promise<void> {
    if (!this.#members.delete(containerId)) return;
    (await this.#net)?.detach(containerId);
    await this.#refreshAll();
  }

  /** @internal */
  peers(exceptContainerId: string): [string, string][] {
    const out: [string, string][] = [];
    for (const [id, { member, ip }] of this.#members) {
      if (id === exceptContainerId) continue;
      for (const name of member.names) out.push([name, ip]);
    }
    return out;
  }

  async #refreshAll(): Promise<void> {
    await Promise.all([...this.#members.values()].map(({ member }) => member.refreshHosts().catch((e) => log('refresh hosts of %s: %O', member.containerId, e))));
  }

  /** Removes the network; idempotent. Containers still on it lose their interface on it. */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      if (Network.#live.get(this.name) === this) Network.#live.delete(this.name);
      const net = await this.#net?.catch(() => undefined);
      this.#members.clear();
      await net?.remove();
    })();
    return this.#removed;
  }
  /** testcontainers' name for {@link remove}. */
  async stop(): Promise<void> { await this.remove(); }
  getName(): string { return this.name; }
  getId(): string { return this.id; }
  async [Symbol.asyncDispose](): Promise<void> { await this.remove(); }
}

import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../errors.js';

/**
 * A user network: containers joined with `withNetwork(net, { aliases })` reach each other by name and alias.
 * @example
 * await using net = await Network.create();
 */
export class Network implements AsyncDisposable {
  readonly id: string;
  readonly name: string;
  #removed = false;

  constructor(opts: { name?: string } = {}) {
    if (opts.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(opts.name)) {
      throw invalidArgument('network name', opts.name, 'letters, digits, "_", "." or "-" (at most 64)');
    }
    this.id = randomBytes(16).toString('hex');
    this.name = opts.name ?? `slipway-net-${this.id.slice(0, 12)}`;
  }

  /** Creates a network. */
  static async create(opts: { name?: string } = {}): Promise<Network> { return new Network(opts).start(); }

  /** testcontainers-style start; returns this. */
  async start(): Promise<this> { return this; }

  get removed(): boolean { return this.#removed; }

  /** Removes the network; idempotent. */
  async remove(): Promise<void> { this.#removed = true; }
  async stop(): Promise<void> { await this.remove(); }
  getName(): string { return this.name; }
  getId(): string { return this.id; }
  async [Symbol.asyncDispose](): Promise<void> { await this.remove(); }
}

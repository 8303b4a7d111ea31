/** A user network in the engine: a bridge network named as the API's `Network`, labelled with the session. */
import { hasStatus, type EngineClient } from '../../engine/client.js';
import { logger } from '../../internal/debug.js';

const log = logger('engine:network');

export class EngineNetwork {
  readonly #client: EngineClient;
  readonly id: string;
  readonly name: string;
  #removed: Promise<void> | undefined;

  private constructor(client: EngineClient, id: string, name: string) {
    this.#client = client;
    this.id = id;
    this.name = name;
  }

  static async create(client: EngineClient, name: string, labels: Record<string, string>): Promise<EngineNetwork> {
    const r = await client.call<{ Id: string }>('POST', '/networks/create', { body: { Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels } });
    return new EngineNetwork(client, r.Id, name);
  }

  /** Connects a created container, with its names as aliases (the engine's DNS answers them on this network). */
  async attach(containerId: string, names: readonly string[] = []): Promise<{ ip: string }> {
    await this.#client.call('POST', `/networks/${this.id}/connect`, { body: { Container: containerId, EndpointConfig: { Aliases: [...names] } } });
    // The address is given at start; the container reads it from the engine then.
    return { ip: '' };
  }

  detach(containerId: string): void {
    void this.#client.call('POST', `/networks/${this.id}/disconnect`, { body: { Container: containerId, Force: true } })
      .catch((e: unknown) => log('disconnect %s from %s: %s', containerId.slice(0, 12), this.name, (e as Error).message));
  }

  /** Disconnects what is still attached (as the native network drops their interfaces), then removes it; idempotent. */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      try {
        const n = await this.#client.call<{ Containers?: Record<string, unknown> }>('GET', `/networks/${this.id}`);
        await Promise.all(Object.keys(n.Containers ?? {}).map((c) => this.#client.call('POST', `/networks/${this.id}/disconnect`, { body: { Container: c, Force: true } }).catch(() => {})));
        await this.#client.call('DELETE', `/networks/${this.id}`);
      } catch (err) {
        if (!hasStatus(err, 404)) throw err;
      }
    })();
    return this.#removed;
  }
}

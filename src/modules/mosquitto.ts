import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import {
  ServiceContainer, StartedServiceContainer, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 1883;
const CONFIG = '/mosquitto/config/mosquitto.conf';
/**
 * Mosquitto 2 listens on loopback only without a listener in its config: this one accepts anonymous
 * clients on every address, as a test broker should, and logs to stderr (unbuffered: mosquitto 2.0.11 does not flush stdout, so its lines reach a pipe only at exit).
 */
const DEFAULT_CONFIG = 'listener 1883\nallow_anonymous true\npersistence false\nlog_dest stderr\n';

/** Mosquitto as a service module (shared by `slipway`'s {@link MosquittoContainer} and `slipway/testcontainers`'). */
export const mosquittoService: ServiceDefinition<Record<string, never>> = {
  port: PORT,
  defaults: {},
  configure(c: Container): Container {
    const ownConfig = c.options.files.some((f) => f.target === CONFIG);
    const configured = ownConfig ? c : c.withFile(CONFIG, DEFAULT_CONFIG, { mode: 0o644 });
    return waitUnlessChosen(exposeUnlessPublished(configured, PORT),
      Wait.forAll([Wait.forLogMessage(/mosquitto version \S+ running/), Wait.forListeningPorts(PORT)]));
  },
};

/** `mqtt://host:port`. */
export function mosquittoConnectionUrl(host: string, port: number): string { return `mqtt://${host}:${port}`; }

/**
 * An MQTT broker (Eclipse Mosquitto, `eclipse-mosquitto` image conventions): anonymous clients on 1883,
 * published on a free host port, ready once the broker logs that it runs and listens. Your own
 * `/mosquitto/config/mosquitto.conf` (`with((c) => c.withFile(...))`) replaces the module's.
 *
 * @example
 * import { connectAsync } from 'mqtt';
 * import { MosquittoContainer } from 'slipway';
 * await using broker = await new MosquittoContainer('eclipse-mosquitto:2').start();
 * const client = await connectAsync(broker.getConnectionUrl());
 */
export class MosquittoContainer extends ServiceContainer<Record<string, never>, StartedMosquittoContainer> {
  protected readonly definition = mosquittoService;

  /** @param image - @defaultValue 'eclipse-mosquitto:2' */
  constructor(image = 'eclipse-mosquitto:2', /** @internal */ state?: ModuleState<Record<string, never>>) {
    super(state ?? { container: moduleContainer(image), settings: mosquittoService.defaults });
  }

  protected copy(state: ModuleState<Record<string, never>>): this {
    return new MosquittoContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedMosquittoContainer {
    return new StartedMosquittoContainer(started);
  }
}

/**
 * A started {@link MosquittoContainer}.
 * @example
 * import { MosquittoContainer } from 'slipway';
 * await using broker = await new MosquittoContainer('eclipse-mosquitto:2').start();
 * broker.getConnectionUrl(); // mqtt://127.0.0.1:PORT
 */
export class StartedMosquittoContainer extends StartedServiceContainer {
  /** The host port that reaches 1883. */
  getPort(): number { return this.getMappedPort(PORT); }
  /** `mqtt://host:port`, for `mqtt.connect()`. */
  getConnectionUrl(): string { return mosquittoConnectionUrl(this.getHost(), this.getPort()); }
}

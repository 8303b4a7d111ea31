/** A Mosquitto (MQTT) module under testcontainers' conventions (slipway's `MosquittoContainer`). */
import { mosquittoConnectionUrl, mosquittoService } from '../../modules/mosquitto.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * Eclipse Mosquitto with anonymous clients on 1883 (unless you copy your own `/mosquitto/config/mosquitto.conf`), ready
 * once it logs that it runs and listens. Every `with*` mutates and returns this builder.
 * @example
 * import { connectAsync } from 'mqtt';
 * import { MosquittoContainer } from 'slipway/testcontainers';
 * await using broker = await new MosquittoContainer('eclipse-mosquitto:2').start();
 * const client = await connectAsync(broker.getConnectionUrl());
 */
export class MosquittoContainer extends ServiceGenericContainer<Record<string, never>, StartedMosquittoContainer> {
  constructor(image: string) { super(image, mosquittoService); }

  protected wrap(started: StartedTestContainer): StartedMosquittoContainer { return new StartedMosquittoContainer(started); }
}

/**
 * A started {@link MosquittoContainer}.
 * @example
 * import { MosquittoContainer } from 'slipway/testcontainers';
 * await using broker = await new MosquittoContainer('eclipse-mosquitto:2').start();
 * broker.getConnectionUrl(); // mqtt://127.0.0.1:PORT
 */
export class StartedMosquittoContainer extends AbstractStartedContainer {
  /** The host port that reaches 1883. */
  getPort(): number { return this.getMappedPort(mosquittoService.port); }
  /** `mqtt://host:port`. */
  getConnectionUrl(): string { return mosquittoConnectionUrl(this.getHost(), this.getPort()); }
}

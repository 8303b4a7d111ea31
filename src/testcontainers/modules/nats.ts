/** testcontainers' `@testcontainers/nats` names over slipway's NATS module. */
import { natsArg, natsConnectionOptions, natsService, type NatsConnectionOptions, type NatsSettings } from '../../modules/nats.js';
import { checkText } from '../../modules/service-container.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * testcontainers' `NatsContainer`: `nats-server --user test --pass test` unless set, monitoring on 8222, ready once it
 * logs "Server is ready" and listens. Every `with*` mutates and returns this builder.
 * @example
 * import { connect } from 'nats';
 * import { NatsContainer } from 'slipway/testcontainers';
 * await using n = await new NatsContainer('nats:2.10').withJetStream().start();
 * const nc = await connect(n.getConnectionOptions());
 */
export class NatsContainer extends ServiceGenericContainer<NatsSettings, StartedNatsContainer> {
  constructor(image: string) { super(image, natsService); }

  /** `--user`. @defaultValue 'test' */
  withUsername(username: string): this { return this.update({ username: checkText('username', username) }); }
  /** `--pass`. @defaultValue 'test' */
  withPass(password: string): this { return this.update({ password: checkText('password', password) }); }
  /** Adds a nats-server flag (`withArg('--name', 'a')`, `withArg('-DV')`). */
  withArg(name: string, value?: string): this { return this.update({ args: [...this.settings.args, natsArg(name, value)] }); }
  /** `-js`. */
  withJetStream(): this { return this.withArg('-js'); }

  protected wrap(started: StartedTestContainer, settings: Readonly<NatsSettings>): StartedNatsContainer {
    return new StartedNatsContainer(started, settings);
  }
}

/**
 * testcontainers' `StartedNatsContainer`.
 * @example
 * import { NatsContainer } from 'slipway/testcontainers';
 * await using n = await new NatsContainer('nats:2.10').start();
 * const { servers, user, pass } = n.getConnectionOptions();
 */
export class StartedNatsContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, private readonly settings: Readonly<NatsSettings>) { super(started); }

  /** `{ servers: 'host:port', user, pass }` for `connect()` of the `nats` package. */
  getConnectionOptions(): NatsConnectionOptions { return natsConnectionOptions(this.getHost(), this.getMappedPort(natsService.port), this.settings); }
}

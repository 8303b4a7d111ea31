/** testcontainers' `@testcontainers/rabbitmq` names over slipway's RabbitMQ module. */
import { RABBITMQ_MANAGEMENT_PORT, checkRabbitMQValue, rabbitMQService, type RabbitMQSettings } from '../../modules/rabbitmq.js';
import { unsupported } from '../../errors.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * testcontainers' `RabbitMQContainer` (a `-management` image): user `guest`/`guest` unless `withEnvironment` sets
 * `RABBITMQ_DEFAULT_USER`/`RABBITMQ_DEFAULT_PASS` (or `withUsername`/`withPassword` do), AMQP on 5672 and the
 * management API on 15672, ready once it logs "Server startup complete" and both listen. Every `with*` mutates and
 * returns this builder. TLS ports (5671, 15671) are not set up: `getAmqpsUrl()` throws `ERR_UNSUPPORTED`.
 *
 * @example
 * import amqp from 'amqplib';
 * import { RabbitMQContainer } from 'slipway/testcontainers';
 * await using mq = await new RabbitMQContainer('rabbitmq:3.13-management').start();
 * const conn = await amqp.connect(mq.getAmqpUrl());
 */
export class RabbitMQContainer extends ServiceGenericContainer<RabbitMQSettings, StartedRabbitMQContainer> {
  constructor(image: string) { super(image, rabbitMQService); }

  /** As GenericContainer's; `RABBITMQ_DEFAULT_USER`/`_PASS` here become the module's user and password. */
  override withEnvironment(env: Record<string, string>): this {
    super.withEnvironment(env);
    const { RABBITMQ_DEFAULT_USER: username, RABBITMQ_DEFAULT_PASS: password } = env;
    if (username !== undefined) this.withUsername(username);
    if (password !== undefined) this.withPassword(password);
    return this;
  }
  /** `RABBITMQ_DEFAULT_USER`. @defaultValue 'guest' */
  withUsername(username: string): this { return this.update({ username: checkRabbitMQValue('username', username) }); }
  /** `RABBITMQ_DEFAULT_PASS`. @defaultValue 'guest' */
  withPassword(password: string): this { return this.update({ password: checkRabbitMQValue('password', password) }); }

  protected wrap(started: StartedTestContainer, settings: Readonly<RabbitMQSettings>): StartedRabbitMQContainer {
    return new StartedRabbitMQContainer(started, settings);
  }
}

/**
 * testcontainers' `StartedRabbitMQContainer`.
 * @example
 * import { RabbitMQContainer } from 'slipway/testcontainers';
 * await using mq = await new RabbitMQContainer('rabbitmq:3.13-management').start();
 * mq.getAmqpUrl(); // amqp://guest:guest@127.0.0.1:PORT
 */
export class StartedRabbitMQContainer extends AbstractStartedContainer {
  constructor(started: StartedTestContainer, private readonly settings: Readonly<RabbitMQSettings>) { super(started); }

  getUsername(): string { return this.settings.username; }
  getPassword(): string { return this.settings.password; }
  /** `amqp://host:port`, as testcontainers (no credentials: pass them to `connect()`, guest/guest by default). */
  getAmqpUrl(): string { return `amqp://${this.getHost()}:${this.getMappedPort(rabbitMQService.port)}`; }
  /**
   * testcontainers' AMQPS URL: not available, the module sets up no TLS listener.
   * @throws SlipwayError `ERR_UNSUPPORTED`, always.
   */
  getAmqpsUrl(): string {
    throw unsupported('getAmqpsUrl()', 'the RabbitMQ module sets up no TLS listener (no certificates are configured)',
      'use getAmqpUrl(), or copy certificates and a rabbitmq.conf with listeners.ssl.default into the container and publish 5671 yourself');
  }
  /** `http://host:port` of the management UI and HTTP API. */
  getManagementUrl(): string { return `http://${this.getHost()}:${this.getMappedPort(RABBITMQ_MANAGEMENT_PORT)}`; }
}

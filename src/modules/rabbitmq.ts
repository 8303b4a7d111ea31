import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { invalidArgument } from '../errors.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const AMQP_PORT = 5672;
const MANAGEMENT_PORT = 15672;

/**
 * Settings of {@link RabbitMQContainer}.
 * @example
 * import { RabbitMQContainer, type RabbitMQSettings } from 'slipway';
 * const defaults: RabbitMQSettings = { username: 'guest', password: 'guest' };
 * new RabbitMQContainer('rabbitmq:3.13-management').withUsername('app').withPassword('pw');
 */
export interface RabbitMQSettings {
  /** `RABBITMQ_DEFAULT_USER`. @defaultValue 'guest' */
  username: string;
  /** `RABBITMQ_DEFAULT_PASS`. @defaultValue 'guest' */
  password: string;
}

/** One line without NUL: RabbitMQ's config format has no quoting. */
function checkConfigValue(option: string, value: unknown): string {
  const v = checkText(option, value);
  if (/[\r\n]/.test(v)) throw invalidArgument(option, value, 'a single line');
  return v;
}

/** RabbitMQ as a service module (shared by `slipway`'s {@link RabbitMQContainer} and `slipway/testcontainers`'). */
export const rabbitMQService: ServiceDefinition<RabbitMQSettings> = {
  port: AMQP_PORT,
  defaults: { username: 'guest', password: 'guest' },
  configure(c: Container, s: Readonly<RabbitMQSettings>): Container {
    const env = c.withEnv({ RABBITMQ_DEFAULT_USER: s.username, RABBITMQ_DEFAULT_PASS: s.password });
    return waitUnlessChosen(exposeUnlessPublished(exposeUnlessPublished(env, AMQP_PORT), MANAGEMENT_PORT),
      Wait.forAll([Wait.forLogMessage(/Server startup complete/), Wait.forListeningPorts(AMQP_PORT, MANAGEMENT_PORT)]));
  },
};

/** The management UI/API port. */
export const RABBITMQ_MANAGEMENT_PORT = MANAGEMENT_PORT;

/** `amqp://user:password@host:port`, pieces percent-encoded. */
export function rabbitMQAmqpUrl(host: string, port: number, s: Readonly<RabbitMQSettings>): string {
  const e = encodeURIComponent;
  return `amqp://${e(s.username)}:${e(s.password)}@${host}:${port}`;
}

/** Checks a RabbitMQ user name or password. */
export function checkRabbitMQValue(option: string, value: unknown): string { return checkConfigValue(option, value); }

/**
 * RabbitMQ with the management plugin (the `rabbitmq:*-management` images' conventions): AMQP on 5672 and
 * the management UI/API on 15672, both published, ready once it logs "Server startup complete" and listens.
 *
 * @example
 * import amqp from 'amqplib';
 * import { RabbitMQContainer } from 'slipway';
 * await using mq = await new RabbitMQContainer('rabbitmq:3.13-management').start();
 * const conn = await amqp.connect(mq.getAmqpUrl());
 */
export class RabbitMQContainer extends ServiceContainer<RabbitMQSettings, StartedRabbitMQContainer> {
  protected readonly definition = rabbitMQService;

  /** @param image - @defaultValue 'rabbitmq:3.13-management' */
  constructor(image = 'rabbitmq:3.13-management', /** @internal */ state?: ModuleState<RabbitMQSettings>) {
    super(state ?? { container: moduleContainer(image), settings: rabbitMQService.defaults });
  }

  /** The user created at first start, with all rights on `/` (`RABBITMQ_DEFAULT_USER`). */
  withUsername(username: string): RabbitMQContainer { return this.withSettings({ username: checkConfigValue('username', username) }); }
  /** Its password (`RABBITMQ_DEFAULT_PASS`). */
  withPassword(password: string): RabbitMQContainer { return this.withSettings({ password: checkConfigValue('password', password) }); }

  protected copy(state: ModuleState<RabbitMQSettings>): this {
    return new RabbitMQContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedRabbitMQContainer {
    return new StartedRabbitMQContainer(started, this.settings);
  }
}

/**
 * A started {@link RabbitMQContainer}.
 * @example
 * import { RabbitMQContainer } from 'slipway';
 * await using mq = await new RabbitMQContainer('rabbitmq:3.13-management').start();
 * mq.getAmqpUrl(); // amqp://guest:guest@127.0.0.1:PORT
 * mq.getManagementUrl(); // http://127.0.0.1:PORT
 */
export class StartedRabbitMQContainer extends StartedServiceContainer {
  readonly #settings: Readonly<RabbitMQSettings>;

  /** @internal */
  constructor(container: StartedContainer, settings: Readonly<RabbitMQSettings>) {
    super(container);
    this.#settings = settings;
  }

  getUsername(): string { return this.#settings.username; }
  getPassword(): string { return this.#settings.password; }
  /** `amqp://user:password@host:port` (pieces percent-encoded), for `amqplib.connect()`. */
  getAmqpUrl(): string {
    return rabbitMQAmqpUrl(this.getHost(), this.getMappedPort(AMQP_PORT), this.#settings);
  }
  /** `http://host:port` of the management UI and HTTP API (basic auth with the same user). */
  getManagementUrl(): string { return `http://${this.getHost()}:${this.getMappedPort(MANAGEMENT_PORT)}`; }
}

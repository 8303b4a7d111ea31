import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const CLIENT_PORT = 4222;
const ROUTING_PORT = 6222;
const MONITORING_PORT = 8222;

/**
 * Settings of {@link NatsContainer}.
 * @example
 * import { NatsContainer, type NatsSettings } from 'slipway';
 * const settings: NatsSettings = { username: 'app', password: 'pw', args: [['--name', 'test']] };
 * new NatsContainer('nats:2.10').withUsername('app').withPass('pw').withArg('--name', 'test');
 */
export interface NatsSettings {
  /** `--user`. @defaultValue 'test' */
  username: string;
  /** `--pass`. @defaultValue 'test' */
  password: string;
  /** Further `nats-server` flags, in order (`--name value` pairs, or a flag alone). */
  args: readonly (readonly string[])[];
}

/**
 * What `connect()` of the `nats` package takes: `servers`, `user`, `pass`.
 * @example
 * import { connect } from 'nats';
 * import { NatsContainer, type NatsConnectionOptions } from 'slipway';
 * await using n = await new NatsContainer('nats:2.10').start();
 * const options: NatsConnectionOptions = n.getConnectionOptions();
 * const nc = await connect(options);
 */
export interface NatsConnectionOptions {
  servers: string;
  user: string;
  pass: string;
}

/** NATS as a service module (shared by `slipway`'s {@link NatsContainer} and `slipway/testcontainers`'). */
export const natsService: ServiceDefinition<NatsSettings> = {
  port: CLIENT_PORT,
  defaults: { username: 'test', password: 'test', args: [] },
  configure(c: Container, s: Readonly<NatsSettings>): Container {
    // As testcontainers: the command is nats-server's flags (the image's entrypoint is nats-server), unless you set one.
    const command = ['--user', s.username, '--pass', s.password, '--http_port', String(MONITORING_PORT), ...s.args.flat()];
    let next = c.options.command === undefined ? c.withCommand(command) : c;
    for (const port of [CLIENT_PORT, ROUTING_PORT, MONITORING_PORT]) next = exposeUnlessPublished(next, port);
    return waitUnlessChosen(next, Wait.forAll([Wait.forLogMessage(/Server is ready/), Wait.forListeningPorts(CLIENT_PORT)]));
  },
};

/** A `nats-server` flag with an optional value, checked. */
export function natsArg(name: string, value?: string): readonly string[] {
  const flag = checkText('arg name', name);
  return value === undefined ? [flag] : [flag, checkText(`value of ${flag}`, value)];
}

/** `{ servers: 'host:port', user, pass }`. */
export function natsConnectionOptions(host: string, port: number, s: Readonly<NatsSettings>): NatsConnectionOptions {
  return { servers: `${host}:${port}`, user: s.username, pass: s.password };
}

/**
 * A NATS server, as testcontainers' module runs it: the command is `nats-server` flags (`--user`, `--pass`,
 * monitoring on 8222), client port 4222 published, ready once it logs "Server is ready" and listens.
 *
 * @example
 * import { connect } from 'nats';
 * import { NatsContainer } from 'slipway';
 * await using n = await new NatsContainer('nats:2.10').withJetStream().start();
 * const nc = await connect(n.getConnectionOptions());
 */
export class NatsContainer extends ServiceContainer<NatsSettings, StartedNatsContainer> {
  protected readonly definition = natsService;

  /** @param image - @defaultValue 'nats:2.10' */
  constructor(image = 'nats:2.10', /** @internal */ state?: ModuleState<NatsSettings>) {
    super(state ?? { container: moduleContainer(image), settings: natsService.defaults });
  }

  /** The user clients authenticate as (`--user`). */
  withUsername(username: string): NatsContainer { return this.withSettings({ username: checkText('username', username) }); }
  /** Its password (`--pass`). */
  withPass(password: string): NatsContainer { return this.withSettings({ password: checkText('password', password) }); }
  /** Adds a `nats-server` flag, e.g. `withArg('--name', 'a')` or `withArg('-DV')`. */
  withArg(name: string, value?: string): NatsContainer { return this.withSettings({ args: [...this.settings.args, natsArg(name, value)] }); }
  /** Enables JetStream (`-js`). */
  withJetStream(): NatsContainer { return this.withArg('-js'); }

  protected copy(state: ModuleState<NatsSettings>): this {
    return new NatsContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedNatsContainer {
    return new StartedNatsContainer(started, this.settings);
  }
}

/**
 * A started {@link NatsContainer}.
 * @example
 * import { NatsContainer } from 'slipway';
 * await using n = await new NatsContainer('nats:2.10').start();
 * const { servers, user, pass } = n.getConnectionOptions();
 */
export class StartedNatsContainer extends StartedServiceContainer {
  readonly #settings: Readonly<NatsSettings>;

  /** @internal */
  constructor(container: StartedContainer, settings: Readonly<NatsSettings>) {
    super(container);
    this.#settings = settings;
  }

  /** The host port that reaches the client port 4222. */
  getPort(): number { return this.getMappedPort(CLIENT_PORT); }
  getUsername(): string { return this.#settings.username; }
  getPass(): string { return this.#settings.password; }
  /** `{ servers: 'host:port', user, pass }`, for `connect()` of the `nats` package. */
  getConnectionOptions(): NatsConnectionOptions {
    return natsConnectionOptions(this.getHost(), this.getPort(), this.#settings);
  }
}

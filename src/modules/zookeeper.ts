import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import {
  ServiceContainer, StartedServiceContainer, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 2181;

/**
 * Asks the server `srvr` (the one four-letter word ZooKeeper 3.5+ allows by default) over the container's loopback;
 * it answers with its `Mode:` only once it serves requests (before that: "not currently serving requests"). Each ask
 * is bounded: ZooKeeper 3.8 leaves a four-letter connection open when it comes before its database is loaded (an
 * NPE in the close), and an unbounded probe then waited for the whole startup timeout.
 */
const SERVING = ['timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf srvr >&3 && grep -q '^Mode: ' <&3`];

/**
 * ZooKeeper as a service module (shared by `slipway`'s {@link ZooKeeperContainer} and `slipway/testcontainers`').
 * The official image's conventions (`ZOO_*` variables, `ZOO_MY_ID`, `/data`, `/datalog`); ready when the server
 * answers `srvr` with its mode inside the container (keep `srvr` in `ZOO_4LW_COMMANDS_WHITELIST` if you set one)
 * and the published client port answers.
 */
export const zookeeperService: ServiceDefinition<Record<string, never>> = {
  port: PORT,
  defaults: {},
  configure(c: Container): Container {
    return waitUnlessChosen(exposeUnlessPublished(c, PORT), Wait.forAll([Wait.forSuccessfulCommand(SERVING), Wait.forListeningPorts(PORT)]));
  },
};

/** `host:port`, the connection string ZooKeeper clients (`node-zookeeper-client`'s `createClient`) take. */
export function zookeeperConnectionString(host: string, port: number): string { return `${host}:${port}`; }

/**
 * ZooKeeper (standalone), published on a free host port and ready once it serves requests.
 *
 * Immutable: every `with*` returns a new builder (a dropped result changes nothing).
 *
 * @example
 * import zookeeper from 'node-zookeeper-client';
 * import { ZooKeeperContainer } from 'slipway';
 * await using zk = await new ZooKeeperContainer('zookeeper:3.8').start();
 * const client = zookeeper.createClient(zk.getConnectionString());
 */
export class ZooKeeperContainer extends ServiceContainer<Record<string, never>, StartedZooKeeperContainer> {
  protected readonly definition = zookeeperService;

  /** @param image - @defaultValue 'zookeeper:3.8' */
  constructor(image = 'zookeeper:3.8', /** @internal */ state?: ModuleState<Record<string, never>>) {
    super(state ?? { container: moduleContainer(image), settings: zookeeperService.defaults });
  }

  protected copy(state: ModuleState<Record<string, never>>): this {
    return new ZooKeeperContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedZooKeeperContainer {
    return new StartedZooKeeperContainer(started);
  }
}

/**
 * A started {@link ZooKeeperContainer}.
 * @example
 * import { ZooKeeperContainer } from 'slipway';
 * await using zk = await new ZooKeeperContainer('zookeeper:3.8').start();
 * zk.getConnectionString(); // '127.0.0.1:PORT'
 */
export class StartedZooKeeperContainer extends StartedServiceContainer {
  /** The host port that reaches the client port 2181. */
  getPort(): number { return this.getMappedPort(PORT); }
  /** `host:port`, for `zookeeper.createClient()`. */
  getConnectionString(): string { return zookeeperConnectionString(this.getHost(), this.getPort()); }
}

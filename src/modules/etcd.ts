import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import {
  ServiceContainer, StartedServiceContainer, checkText, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const CLIENT_PORT = 2379;
/** The peer port. */
export const ETCD_PEER_PORT = 2380;
const PEER_PORT = ETCD_PEER_PORT;

/**
 * Settings of {@link EtcdContainer}.
 * @example
 * import { EtcdContainer, type EtcdSettings } from 'slipway';
 * const settings: EtcdSettings = { nodeName: 'etcd-test' };
 * new EtcdContainer('quay.io/coreos/etcd:v3.5.17').withNodeName('node-a');
 */
export interface EtcdSettings {
  /** `--name`, also the host name in the advertised peer URL. @defaultValue 'etcd-test' */
  nodeName: string;
}

/** etcd as a service module (shared by `slipway`'s {@link EtcdContainer} and `slipway/testcontainers`'). */
export const etcdService: ServiceDefinition<EtcdSettings> = {
  port: CLIENT_PORT,
  defaults: { nodeName: 'etcd-test' },
  configure(c: Container, s: Readonly<EtcdSettings>): Container {
    const name = s.nodeName;
    const command = ['etcd', '--name', name, '--data-dir', '/tmp/etcd-data',
      '--initial-advertise-peer-urls', `http://${name}:${PEER_PORT}`, '--listen-peer-urls', `http://0.0.0.0:${PEER_PORT}`,
      '--advertise-client-urls', `http://0.0.0.0:${CLIENT_PORT}`, '--listen-client-urls', `http://0.0.0.0:${CLIENT_PORT}`,
      '--initial-cluster', `${name}=http://${name}:${PEER_PORT}`];
    // The advertised peer URL names the node: it must resolve inside the container.
    let next = c.options.command === undefined ? c.withCommand(command).withExtraHosts({ [name]: '127.0.0.1' }) : c;
    next = exposeUnlessPublished(exposeUnlessPublished(next, CLIENT_PORT), PEER_PORT);
    return waitUnlessChosen(next, Wait.forAll([Wait.forLogMessage(/ready to serve client requests/), Wait.forListeningPorts(CLIENT_PORT)]));
  },
};

/** `http://host:port`. */
export function etcdEndpoint(host: string, port: number): string { return `http://${host}:${port}`; }

/**
 * A single-node etcd (v3 API), as testcontainers' module runs it: clients on 2379 and peers on 2380, both
 * on every address, ready once it logs "ready to serve client requests" and listens.
 *
 * @example
 * import { Etcd3 } from 'etcd3';
 * import { EtcdContainer } from 'slipway';
 * await using etcd = await new EtcdContainer('quay.io/coreos/etcd:v3.5.17').start();
 * const client = new Etcd3({ hosts: etcd.getClientEndpoint() });
 */
export class EtcdContainer extends ServiceContainer<EtcdSettings, StartedEtcdContainer> {
  protected readonly definition = etcdService;

  /** @param image - @defaultValue 'quay.io/coreos/etcd:v3.5.17' */
  constructor(image = 'quay.io/coreos/etcd:v3.5.17', /** @internal */ state?: ModuleState<EtcdSettings>) {
    super(state ?? { container: moduleContainer(image), settings: etcdService.defaults });
  }

  /** The member name (`--name`). */
  withNodeName(name: string): EtcdContainer { return this.withSettings({ nodeName: checkText('nodeName', name) }); }

  protected copy(state: ModuleState<EtcdSettings>): this {
    return new EtcdContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedEtcdContainer {
    return new StartedEtcdContainer(started);
  }
}

/**
 * A started {@link EtcdContainer}.
 * @example
 * import { EtcdContainer } from 'slipway';
 * await using etcd = await new EtcdContainer('quay.io/coreos/etcd:v3.5.17').start();
 * etcd.getClientEndpoint(); // http://127.0.0.1:PORT
 */
export class StartedEtcdContainer extends StartedServiceContainer {
  /** The host port that reaches 2379. */
  getPort(): number { return this.getMappedPort(CLIENT_PORT); }
  /** `http://host:port` of the client API, for `new Etcd3({ hosts })`. */
  getClientEndpoint(): string { return etcdEndpoint(this.getHost(), this.getPort()); }
  /** `http://host:port` of the peer API. */
  getPeerEndpoint(): string { return etcdEndpoint(this.getHost(), this.getMappedPort(PEER_PORT)); }
}

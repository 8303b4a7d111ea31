/** testcontainers' `@testcontainers/etcd` names over slipway's etcd module. */
import { ETCD_PEER_PORT, etcdEndpoint, etcdService, type EtcdSettings } from '../../modules/etcd.js';
import { checkText } from '../../modules/service-container.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * testcontainers' `EtcdContainer`: one member named `etcd-test` (or `nodeName`), clients on 2379 and peers on 2380,
 * ready once it logs "ready to serve client requests" and listens. Every `with*` mutates and returns this builder.
 * @example
 * import { Etcd3 } from 'etcd3';
 * import { EtcdContainer } from 'slipway/testcontainers';
 * await using etcd = await new EtcdContainer('quay.io/coreos/etcd:v3.5.17').start();
 * const client = new Etcd3({ hosts: etcd.getClientEndpoint() });
 */
export class EtcdContainer extends ServiceGenericContainer<EtcdSettings, StartedEtcdContainer> {
  constructor(image: string, nodeName = 'etcd-test') {
    super(image, etcdService);
    this.update({ nodeName: checkText('nodeName', nodeName) });
  }

  /** The member name (`--name`). */
  withNodeName(name: string): this { return this.update({ nodeName: checkText('nodeName', name) }); }

  protected wrap(started: StartedTestContainer): StartedEtcdContainer { return new StartedEtcdContainer(started); }
}

/**
 * testcontainers' `StartedEtcdContainer`.
 * @example
 * import { EtcdContainer } from 'slipway/testcontainers';
 * await using etcd = await new EtcdContainer('quay.io/coreos/etcd:v3.5.17').start();
 * etcd.getClientEndpoint(); // http://127.0.0.1:PORT
 */
export class StartedEtcdContainer extends AbstractStartedContainer {
  /** `http://host:port` of the client API. */
  getClientEndpoint(): string { return etcdEndpoint(this.getHost(), this.getMappedPort(etcdService.port)); }
  /** `http://host:port` of the peer API. */
  getPeerEndpoint(): string { return etcdEndpoint(this.getHost(), this.getMappedPort(ETCD_PEER_PORT)); }
}

/** A ZooKeeper module under testcontainers' conventions (slipway's `ZooKeeperContainer`; testcontainers-node has none). */
import { zookeeperConnectionString, zookeeperService } from '../../modules/zookeeper.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * ZooKeeper (standalone) on 2181, ready once it serves requests (`srvr` answers with its mode). Configure it as
 * the official image: `withEnvironment({ ZOO_TICK_TIME: '500', ZOO_MY_ID: '1', ... })`. Every `with*` mutates and
 * returns this builder.
 * @example
 * import zookeeper from 'node-zookeeper-client';
 * import { ZooKeeperContainer } from 'slipway/testcontainers';
 * await using zk = await new ZooKeeperContainer('zookeeper:3.8').start();
 * const client = zookeeper.createClient(zk.getConnectionString());
 */
export class ZooKeeperContainer extends ServiceGenericContainer<Record<string, never>, StartedZooKeeperContainer> {
  constructor(image: string) { super(image, zookeeperService); }

  protected wrap(started: StartedTestContainer): StartedZooKeeperContainer { return new StartedZooKeeperContainer(started); }
}

/**
 * A started {@link ZooKeeperContainer}.
 * @example
 * import { ZooKeeperContainer } from 'slipway/testcontainers';
 * await using zk = await new ZooKeeperContainer('zookeeper:3.8').start();
 * zk.getConnectionString(); // '127.0.0.1:PORT'
 */
export class StartedZooKeeperContainer extends AbstractStartedContainer {
  /** The host port that reaches the client port 2181. */
  getPort(): number { return this.getMappedPort(zookeeperService.port); }
  /** `host:port`, for `zookeeper.createClient()`. */
  getConnectionString(): string { return zookeeperConnectionString(this.getHost(), this.getPort()); }
}

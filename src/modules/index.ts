/**
 * Service modules: preconfigured containers with connection details, like testcontainers' modules.
 * @example
 * import { PostgreSqlContainer } from 'slipway';
 * await using pg = await new PostgreSqlContainer().start();
 * pg.getConnectionUri(); // postgres://test:test@127.0.0.1:41234/test
 */
export { ServiceContainer, StartedServiceContainer } from './service-container.js';
export { PostgreSqlContainer, StartedPostgreSqlContainer } from './postgresql.js';
export type { PostgreSqlSettings } from './postgresql.js';
export { RedisContainer, StartedRedisContainer } from './redis.js';
export type { RedisSettings } from './redis.js';
export { NginxContainer, StartedNginxContainer } from './nginx.js';
export { MariaDbContainer, MySqlContainer, StartedMariaDbContainer, StartedMySqlContainer } from './mariadb.js';
export type { MariaDbSettings, Flavour } from './mariadb.js';
export { MemcachedContainer, StartedMemcachedContainer } from './memcached.js';
export { NatsContainer, StartedNatsContainer } from './nats.js';
export type { NatsSettings, NatsConnectionOptions } from './nats.js';
export { MosquittoContainer, StartedMosquittoContainer } from './mosquitto.js';
export { EtcdContainer, StartedEtcdContainer } from './etcd.js';
export type { EtcdSettings } from './etcd.js';
export { RabbitMQContainer, StartedRabbitMQContainer } from './rabbitmq.js';
export type { RabbitMQSettings } from './rabbitmq.js';
export { ZooKeeperContainer, StartedZooKeeperContainer } from './zookeeper.js';
export { OpenLdapContainer, StartedOpenLdapContainer } from './openldap.js';
export type { OpenLdapSettings } from './openldap.js';

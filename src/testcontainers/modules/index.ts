/** testcontainers-style modules: mutable `GenericContainer` subclasses over slipway's module definitions. */
export { ServiceGenericContainer } from './service-container.js';
export type { DockerCreateOptions } from './service-container.js';
export { PostgreSqlContainer, StartedPostgreSqlContainer } from './postgresql.js';
export { RedisContainer, StartedRedisContainer } from './redis.js';
export { NginxContainer, StartedNginxContainer } from './nginx.js';
export { MariaDbContainer, StartedMariaDbContainer, MySqlContainer, StartedMySqlContainer } from './mariadb.js';
export type { FamilyDefinition } from './mariadb.js';
export { MemcachedContainer, StartedMemcachedContainer } from './memcached.js';
export { NatsContainer, StartedNatsContainer } from './nats.js';
export { MosquittoContainer, StartedMosquittoContainer } from './mosquitto.js';
export { EtcdContainer, StartedEtcdContainer } from './etcd.js';
export { RabbitMQContainer, StartedRabbitMQContainer } from './rabbitmq.js';
export { ZooKeeperContainer, StartedZooKeeperContainer } from './zookeeper.js';
export { OpenLdapContainer, StartedOpenLdapContainer } from './openldap.js';

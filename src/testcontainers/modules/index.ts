/** testcontainers-style modules: mutable `GenericContainer` subclasses over slipway's module definitions. */
export { ServiceGenericContainer } from './service-container.js';
export { PostgreSqlContainer, StartedPostgreSqlContainer } from './postgresql.js';
export { RedisContainer, StartedRedisContainer } from './redis.js';
export { NginxContainer, StartedNginxContainer } from './nginx.js';

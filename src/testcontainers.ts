/**
 * testcontainers-node's names over slipway's engine: migrate by changing one import.
 * @example
 * import { GenericContainer, Wait } from 'slipway/testcontainers';
 * const redis = await new GenericContainer('redis:7').withExposedPorts(6379).start();
 * @packageDocumentation
 */
export { Wait } from './api/wait/index.js';
export type { WaitStrategy } from './api/wait/index.js';
export { Network } from './api/network.js';
export { Network as StartedNetwork } from './api/network.js';
export { SlipwayError } from './errors.js';
/** The modules under the names of testcontainers' `@testcontainers/postgresql`, `/redis`… packages. */
export { PostgreSqlContainer, StartedPostgreSqlContainer, RedisContainer, StartedRedisContainer } from './modules/index.js';
export { TestContainers, type PortSpec } from './testcontainers/host-ports.js';
export { GenericContainer } from './testcontainers/generic-container.js';
export { StartedTestContainer } from './testcontainers/started-test-container.js';

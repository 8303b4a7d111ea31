/**
 * testcontainers-node's names over slipway's engine: migrate by changing one import.
 * @example
 * import { GenericContainer, Wait } from 'slipway/testcontainers';
 * const redis = await new GenericContainer('redis:7').withExposedPorts(6379).start();
 * @packageDocumentation
 */
export {
  AbstractWaitStrategy, CompositeWaitStrategy, HealthCheckWaitStrategy, HostPortWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
  OneShotStartupWaitStrategy, ShellWaitStrategy, StartupCheckStrategy, Wait,
} from './api/wait/index.js';
export type { HttpWaitStrategyOptions, StartupCheckContainer, StartupStatus, WaitStrategy } from './api/wait/index.js';
export type { SnapshotOptions } from './api/snapshot-options.js';
export type { SnapshotInfo } from './api/started-container.js';
export { Network, Network as StartedNetwork } from './testcontainers/network.js';
export { PullPolicy, type ImagePullPolicy } from './testcontainers/pull-policy.js';
export { IntervalRetry, RandomUuid, randomUuid, type Retry, type Uuid } from './testcontainers/utils.js';
export { Logger, log, type LoggerOptions } from './testcontainers/logger.js';
export { SlipwayError } from './errors.js';
/**
 * The modules under the names of testcontainers' `@testcontainers/postgresql`, `/redis`… packages: mutable
 * `GenericContainer` subclasses (slipway's own, immutable builders are exported by `slipway`).
 */
export {
  ServiceGenericContainer, PostgreSqlContainer, StartedPostgreSqlContainer, RedisContainer, StartedRedisContainer, NginxContainer, StartedNginxContainer,
  MariaDbContainer, StartedMariaDbContainer, MySqlContainer, StartedMySqlContainer, MemcachedContainer, StartedMemcachedContainer,
  NatsContainer, StartedNatsContainer, MosquittoContainer, StartedMosquittoContainer, EtcdContainer, StartedEtcdContainer,
  RabbitMQContainer, StartedRabbitMQContainer, ZooKeeperContainer, StartedZooKeeperContainer,
  OpenLdapContainer, StartedOpenLdapContainer,
} from './testcontainers/modules/index.js';
export type { DockerCreateOptions } from './testcontainers/modules/index.js';
export { AbstractStartedContainer } from './testcontainers/abstract-started-container.js';
export { AbstractStoppedContainer } from './testcontainers/abstract-stopped-container.js';
export { TestContainers, type PortSpec } from './testcontainers/host-ports.js';
export { GenericContainer, type HealthCheck, type ResourcesQuota } from './testcontainers/generic-container.js';
export type { GenericContainerBuilder } from './testcontainers/generic-container-builder.js';
export type { BuildSecret } from './build/run-mounts.js';
export { StartedTestContainer, StoppedTestContainer } from './testcontainers/started-test-container.js';
export type { HealthCheckStatus, InspectResult } from './testcontainers/inspect-result.js';
export {
  DockerComposeEnvironment, StartedDockerComposeEnvironment, StoppedDockerComposeEnvironment, DownedDockerComposeEnvironment,
} from './testcontainers/docker-compose-environment.js';
export type {
  ContentToCopy, DirectoryToCopy, ExecOptions, ExecResult, FileToCopy, RestartOptions, StopOptions,
} from './testcontainers/started-test-container.js';

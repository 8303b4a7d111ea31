/**
 * slipway: throwaway OCI containers for tests, without a Docker daemon.
 *
 * @example
 * import { Container, Wait } from 'slipway';
 * await using redis = await new Container('redis:7').withMemory('128m').expose(6379).start();
 * const port = redis.getMappedPort(6379);
 * @packageDocumentation
 */
export { Container } from './api/container.js';
export type { TmpfsOptions } from './api/tmpfs-options.js';
export type { ContainerOptions, PortBinding, Mount, BindMount, TmpfsMount, VolumeMount, FileCopy, NetworkMode, HostAccess, HostAccessOptions, HealthcheckConfig } from './api/container-options.js';
export type { BuildOptions, BuildProgress } from './build/builder.js';
export type { BuildSecret } from './build/run-mounts.js';
export type { PullPolicy, PullProgress } from './image/pull.js';
export type { Platform } from './image/platform.js';
export { pull } from './api/pull.js';
export { exportImage } from './api/image-out.js';
export type { ExportImageOptions, ExportedImage } from './image/export.js';
export type { StoredImageOptions } from './image/outgoing.js';
export { pushImage } from './api/image-out.js';
export type { PushImageOptions, PushedImage, PushProgress } from './image/push.js';
export type { PullImageOptions, PulledImage } from './api/pull.js';
export { StartedContainer } from './api/started-container.js';
export type { SnapshotOptions } from './api/snapshot-options.js';
export type { SnapshotInfo } from './api/started-container.js';
export type { CommitOptions, LogsOptions, LogStream, ExecOptions, ExecResult, ExitInfo } from './api/started-container.js';
export { Network } from './api/network.js';
export { Volume } from './api/volume.js';
export { Wait } from './api/wait/index.js';
export type { HttpWaitStrategyOptions, StartupCheckContainer, StartupStatus, WaitStrategy, WaitTarget } from './api/wait/index.js';
export {
  AbstractWaitStrategy, CompositeWaitStrategy, HealthCheckWaitStrategy, HostPortWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
  NoWaitStrategy, OneShotStartupWaitStrategy, ShellWaitStrategy, StartupCheckStrategy,
} from './api/wait/index.js';
export { ComposeEnvironment } from './compose/compose-environment.js';
export { StartedComposeEnvironment } from './compose/started-compose-environment.js';
export type { ComposeDocument, RawService } from './compose/load.js';
export type { Variables as ComposeVariables } from './compose/interpolate.js';
export { SlipwayError } from './errors.js';
export type { SlipwayErrorCode, SlipwayErrorOptions } from './errors.js';
export * from './modules/index.js';

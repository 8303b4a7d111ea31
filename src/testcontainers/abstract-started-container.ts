/** testcontainers' `AbstractStartedContainer`: the base of started module handles (slipway's and yours). */
import type { Readable } from 'node:stream';
import type { StartedContainer } from '../api/started-container.js';
import {
  StartedTestContainer, type ContentToCopy, type DirectoryToCopy, type ExecOptions, type ExecResult, type FileToCopy,
  type RestartOptions, type StopOptions, type StoppedTestContainer,
} from './started-test-container.js';

/**
 * testcontainers' `AbstractStartedContainer`: wraps a {@link StartedTestContainer} and forwards every method to it,
 * so a module's started class adds its accessors (`getConnectionUri()`…) and stays a `StartedTestContainer`.
 * Override `containerStopping()`/`containerStopped()` to act around `stop()`.
 *
 * Every method of `StartedTestContainer` must be forwarded here (test/unit/testcontainers checks it): the wrapped
 * handle keeps the state (stopped, auto-remove, wait strategy for restarts…), this object only delegates.
 *
 * @example
 * import { AbstractStartedContainer, GenericContainer } from 'slipway/testcontainers';
 * class StartedMyService extends AbstractStartedContainer {
 *   getUrl() { return `http://${this.getHost()}:${this.getMappedPort(8080)}`; }
 * }
 * const svc = new StartedMyService(await new GenericContainer('my-service:1').withExposedPorts(8080).start());
 */
export class AbstractStartedContainer extends StartedTestContainer {
  constructor(protected readonly startedTestContainer: StartedTestContainer) {
    super(startedTestContainer.slipway);
  }

  /** Called before `stop()` stops the container. */
  protected async containerStopping(): Promise<void> {}
  /** Called after `stop()` stopped the container. */
  protected async containerStopped(): Promise<void> {}

  override get slipway(): StartedContainer { return this.startedTestContainer.slipway; }
  override getHost(): string { return this.startedTestContainer.getHost(); }
  override getHostname(): string { return this.startedTestContainer.getHostname(); }
  override getId(): string { return this.startedTestContainer.getId(); }
  override getName(): string { return this.startedTestContainer.getName(); }
  override getLabels(): Record<string, string> { return this.startedTestContainer.getLabels(); }
  override getNetworkNames(): string[] { return this.startedTestContainer.getNetworkNames(); }
  override getNetworkId(networkName: string): string { return this.startedTestContainer.getNetworkId(networkName); }
  override getIpAddress(networkName: string): string { return this.startedTestContainer.getIpAddress(networkName); }
  override getMappedPort(port: number | string, protocol?: string): number { return this.startedTestContainer.getMappedPort(port, protocol); }
  override getFirstMappedPort(): number { return this.startedTestContainer.getFirstMappedPort(); }
  override exec(command: string | string[], opts?: Partial<ExecOptions>): Promise<ExecResult> { return this.startedTestContainer.exec(command, opts); }
  override logs(opts?: { since?: number; tail?: number }): Promise<Readable> { return this.startedTestContainer.logs(opts); }
  override copyContentToContainer(items: ContentToCopy[]): Promise<void> { return this.startedTestContainer.copyContentToContainer(items); }
  override copyFilesToContainer(items: FileToCopy[]): Promise<void> { return this.startedTestContainer.copyFilesToContainer(items); }
  override copyDirectoriesToContainer(items: DirectoryToCopy[]): Promise<void> { return this.startedTestContainer.copyDirectoriesToContainer(items); }
  override copyArchiveToContainer(tar: Readable, target = '/', options?: { copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean }): Promise<void> {
    return this.startedTestContainer.copyArchiveToContainer(tar, target, options);
  }
  override copyArchiveFromContainer(path: string): Promise<NodeJS.ReadableStream> { return this.startedTestContainer.copyArchiveFromContainer(path); }
  override commit(options: Parameters<StartedTestContainer['commit']>[0]): Promise<string> { return this.startedTestContainer.commit(options); }
  override restart(opts?: Partial<RestartOptions>): Promise<void> { return this.startedTestContainer.restart(opts); }
  override reset(): Promise<void> { return this.startedTestContainer.reset(); }
  override async stop(opts?: Partial<StopOptions>): Promise<StoppedTestContainer> {
    await this.containerStopping();
    const stopped = await this.startedTestContainer.stop(opts);
    await this.containerStopped();
    return stopped;
  }
  /** `await using`: {@link stop} (with the hooks). */
  override async [Symbol.asyncDispose](): Promise<void> { await this.stop(); }
}

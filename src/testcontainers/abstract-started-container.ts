/** testcontainers' `AbstractStartedContainer`: the base of started module handles (slipway's and yours). */
import type { Readable } from 'node:stream';
import type { StartedContainer } from '../api/started-container.js';
import { StartedTestContainer } from './started-test-container.js';

/**
 * testcontainers' `AbstractStartedContainer`: wraps a {@link StartedTestContainer} and forwards every method to it,
 * so a module's started class adds its accessors (`getConnectionUri()`…) and stays a `StartedTestContainer`.
 * Override `containerStopping()`/`containerStopped()` to act around `stop()`.
 *
 * Every method of `StartedTestContainer` must be forwarded here (test/unit/testcontainers checks it): the wrapped
 * handle keeps the state (stopped, wait strategy for restarts…), this object only delegates.
 *
 * @example
 * class StartedMyService extends AbstractStartedContainer {
 *   getUrl() { return `http://${this.getHost()}:${this.getMappedPort(8080)}`; }
 * }
 */
export class AbstractStartedContainer extends StartedTestContainer {
  constructor(protected readonly startedTestContainer: StartedTestContainer) {
    super(startedTestContainer.slipway);
  }

  /** Called before `stop()` stops the container. */
  protected async containerStopping(): Promise<void> {}
  /** Called after `stop()` stopped the container. */
  protected async containerStopped(): Promise<void> {}

  override getHost(): string { return this.startedTestContainer.getHost(); }
  override getMappedPort(port: number | string): number { return this.startedTestContainer.getMappedPort(port); }
  override getFirstMappedPort(): number { return this.startedTestContainer.getFirstMappedPort(); }
  override getId(): string { return this.startedTestContainer.getId(); }
  override getName(): string { return this.startedTestContainer.getName(); }
  override get slipway(): StartedContainer { return this.startedTestContainer.slipway; }
  override exec(...args: Parameters<StartedTestContainer['exec']>): ReturnType<StartedTestContainer['exec']> {
    return this.startedTestContainer.exec(...args);
  }
  override logs(...args: Parameters<StartedTestContainer['logs']>): Promise<Readable> { return this.startedTestContainer.logs(...args); }
  override copyContentToContainer(...args: Parameters<StartedTestContainer['copyContentToContainer']>): Promise<void> {
    return this.startedTestContainer.copyContentToContainer(...args);
  }
  override copyFilesToContainer(...args: Parameters<StartedTestContainer['copyFilesToContainer']>): Promise<void> {
    return this.startedTestContainer.copyFilesToContainer(...args);
  }
  override copyArchiveFromContainer(path: string): Promise<Readable> { return this.startedTestContainer.copyArchiveFromContainer(path); }
  override restart(...args: Parameters<StartedTestContainer['restart']>): Promise<void> { return this.startedTestContainer.restart(...args); }
  override async stop(...args: Parameters<StartedTestContainer['stop']>): Promise<this> {
    await this.containerStopping();
    await this.startedTestContainer.stop(...args);
    await this.containerStopped();
    return this;
  }
  override async [Symbol.asyncDispose](): Promise<void> { await this.startedTestContainer[Symbol.asyncDispose](); }
}

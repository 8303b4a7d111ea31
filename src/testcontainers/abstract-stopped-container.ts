/** testcontainers' `AbstractStoppedContainer`: the base of stopped module handles. */
import { StoppedTestContainer } from './started-test-container.js';

/**
 * testcontainers' `AbstractStoppedContainer`: wraps the {@link StoppedTestContainer} a `stop()` returned and forwards
 * to it, so a module's stopped class can add accessors and still be a `StoppedTestContainer`.
 * @example
 * import { AbstractStartedContainer, AbstractStoppedContainer, GenericContainer } from 'slipway/testcontainers';
 * class StoppedMyService extends AbstractStoppedContainer {
 *   async readReport() { return this.copyArchiveFromContainer('/var/report.txt'); }
 * }
 * class StartedMyService extends AbstractStartedContainer {
 *   override async stop() { return new StoppedMyService(await super.stop({ remove: false })); }
 * }
 * const svc = new StartedMyService(await new GenericContainer('my-service:1').start());
 * const tar = await (await svc.stop()).readReport();
 */
export class AbstractStoppedContainer extends StoppedTestContainer {
  constructor(protected readonly stoppedTestContainer: StoppedTestContainer) {
    super(stoppedTestContainer);
  }

  override getId(): string { return this.stoppedTestContainer.getId(); }
  override copyArchiveFromContainer(path: string): Promise<NodeJS.ReadableStream> {
    return this.stoppedTestContainer.copyArchiveFromContainer(path);
  }
}

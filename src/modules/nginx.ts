import { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { ServiceContainer, StartedServiceContainer, exposeUnlessPublished, waitUnlessChosen, type ModuleState } from './service-container.js';

const PORT = 80;

/**
 * nginx, published on a free host port and ready once `GET /` answers 200.
 *
 * @example
 * await using web = await new NginxContainer('nginx:1')
 *   .with((c) => c.withFile('/usr/share/nginx/html/index.html', '<h1>hi</h1>')).start();
 * await fetch(web.getBaseUrl());
 */
export class NginxContainer extends ServiceContainer<Record<string, never>, StartedNginxContainer> {
  /** @param image - @defaultValue 'nginx:1' */
  constructor(image = 'nginx:1', /** @internal */ state?: ModuleState<Record<string, never>>) {
    super(state ?? { container: new Container(image), settings: {} });
  }

  protected copy(state: ModuleState<Record<string, never>>): this {
    return new NginxContainer(state.container.options.image, state) as this;
  }

  protected configure(c: Container): Container {
    return waitUnlessChosen(exposeUnlessPublished(c, PORT), Wait.forHttp('/', PORT));
  }

  protected wrap(started: StartedContainer): StartedNginxContainer {
    return new StartedNginxContainer(started);
  }
}

/** A started {@link NginxContainer}. */
export class StartedNginxContainer extends StartedServiceContainer {
  /** The host port that reaches 80. */
  getPort(): number { return this.getMappedPort(PORT); }
  /** `http://host:port` (no trailing slash). */
  getBaseUrl(): string { return `http://${this.getHost()}:${this.getPort()}`; }
}

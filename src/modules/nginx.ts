import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import {
  ServiceContainer, StartedServiceContainer, exposeUnlessPublished, moduleContainer, waitUnlessChosen,
  type ModuleState, type ServiceDefinition,
} from './service-container.js';

const PORT = 80;

/**
 * nginx as a service module (shared by `slipway`'s {@link NginxContainer} and `slipway/testcontainers`'). Ready once
 * `GET /` through the published port gets any HTTP answer: a site without an index page (403/404) is served too.
 */
export const nginxService: ServiceDefinition<Record<string, never>> = {
  port: PORT,
  defaults: {},
  configure(c: Container): Container {
    return waitUnlessChosen(exposeUnlessPublished(c, PORT), Wait.forHttp('/', PORT).forStatusCodeMatching((status) => status >= 100));
  },
};

/** `http://host:port` (no trailing slash). */
export function nginxBaseUrl(host: string, port: number): string { return `http://${host}:${port}`; }

/**
 * nginx, published on a free host port and ready once `GET /` gets an HTTP answer.
 *
 * @example
 * import { NginxContainer } from 'slipway';
 * await using web = await new NginxContainer('nginx:1')
 *   .with((c) => c.withFile('/usr/share/nginx/html/index.html', '<h1>hi</h1>')).start();
 * await fetch(web.getBaseUrl());
 */
export class NginxContainer extends ServiceContainer<Record<string, never>, StartedNginxContainer> {
  protected readonly definition = nginxService;

  /** @param image - @defaultValue 'nginx:1' */
  constructor(image = 'nginx:1', /** @internal */ state?: ModuleState<Record<string, never>>) {
    super(state ?? { container: moduleContainer(image), settings: nginxService.defaults });
  }

  protected copy(state: ModuleState<Record<string, never>>): this {
    return new NginxContainer(state.container.options.image, state) as this;
  }

  protected wrap(started: StartedContainer): StartedNginxContainer {
    return new StartedNginxContainer(started);
  }
}

/**
 * A started {@link NginxContainer}.
 * @example
 * import { NginxContainer } from 'slipway';
 * await using web = await new NginxContainer('nginx:1').start();
 * const res = await fetch(`${web.getBaseUrl()}/`);
 */
export class StartedNginxContainer extends StartedServiceContainer {
  /** The host port that reaches 80. */
  getPort(): number { return this.getMappedPort(PORT); }
  /** `http://host:port` (no trailing slash). */
  getBaseUrl(): string { return nginxBaseUrl(this.getHost(), this.getPort()); }
}

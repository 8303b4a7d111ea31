/** An nginx module under testcontainers' conventions (testcontainers has none; slipway's `NginxContainer`). */
import { nginxBaseUrl, nginxService } from '../../modules/nginx.js';
import { AbstractStartedContainer } from '../abstract-started-container.js';
import type { StartedTestContainer } from '../started-test-container.js';
import { ServiceGenericContainer } from './service-container.js';

/**
 * nginx on port 80, ready once `GET /` gets any HTTP answer. Every `with*` mutates and returns this builder.
 * @example
 * import { NginxContainer } from 'slipway/testcontainers';
 * await using web = await new NginxContainer('nginx:1')
 *   .withCopyContentToContainer([{ content: '<h1>hi</h1>', target: '/usr/share/nginx/html/index.html' }]).start();
 * await fetch(web.getBaseUrl());
 */
export class NginxContainer extends ServiceGenericContainer<Record<string, never>, StartedNginxContainer> {
  constructor(image: string) { super(image, nginxService); }

  protected wrap(started: StartedTestContainer): StartedNginxContainer { return new StartedNginxContainer(started); }
}

/**
 * A started {@link NginxContainer}.
 * @example
 * import { NginxContainer } from 'slipway/testcontainers';
 * await using web = await new NginxContainer('nginx:1').start();
 * await fetch(web.getBaseUrl());
 */
export class StartedNginxContainer extends AbstractStartedContainer {
  /** The host port that reaches 80. */
  getPort(): number { return this.getMappedPort(nginxService.port); }
  /** `http://host:port` (no trailing slash). */
  getBaseUrl(): string { return nginxBaseUrl(this.getHost(), this.getPort()); }
}

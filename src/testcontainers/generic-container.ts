/** testcontainers' `GenericContainer`: a mutable builder over slipway's immutable {@link Container}. */
import { Container } from '../api/container.js';
import type { Network } from '../api/network.js';
import type { WaitStrategy } from '../api/wait/index.js';
import { exposedHostPorts, HOST_ALIAS, type PortSpec } from './host-ports.js';
import { StartedTestContainer } from './started-test-container.js';

/** testcontainers' `GenericContainer`: a mutable builder whose `with*` methods return `this`. */
export class GenericContainer {
  protected container: Container;
  constructor(image: string) { this.container = new Container(image); }

  #set(next: Container): this { this.container = next; return this; }
  withExposedPorts(...ports: PortSpec[]): this {
    let c = this.container;
    for (const p of ports) c = typeof p === 'object' ? c.expose({ container: p.container, host: p.host, protocol: p.protocol }) : c.expose(p);
    return this.#set(c);
  }
  withEnvironment(env: Record<string, string>): this { return this.#set(this.container.withEnv(env)); }
  withCommand(command: string[]): this { return this.#set(this.container.withCommand(command)); }
  withEntrypoint(entrypoint: string[]): this { return this.#set(this.container.withEntrypoint(entrypoint)); }
  withName(name: string): this { return this.#set(this.container.withName(name)); }
  withLabels(labels: Record<string, string>): this { return this.#set(this.container.withLabels(labels)); }
  withUser(user: string): this { return this.#set(this.container.withUser(user)); }
  withWorkingDir(dir: string): this { return this.#set(this.container.withWorkdir(dir)); }
  withHostname(hostname: string): this { return this.#set(this.container.withHostname(hostname)); }
  withAddedCapabilities(...caps: string[]): this { return this.#set(this.container.withAddedCapabilities(...caps)); }
  withDroppedCapabilities(...caps: string[]): this { return this.#set(this.container.withDroppedCapabilities(...caps)); }
  /** Only `seccomp=unconfined` and `no-new-privileges` are supported. */
  withSecurityOpt(...securityOptions: string[]): this { return this.#set(this.container.withSecurityOpt(...securityOptions)); }
  withExtraHosts(hosts: { host: string; ipAddress: string }[]): this {
    return this.#set(this.container.withExtraHosts(Object.fromEntries(hosts.map((h) => [h.host, h.ipAddress]))));
  }
  withSharedMemorySize(bytes: number): this { return this.#set(this.container.withShmSize(bytes)); }
  withWaitStrategy(strategy: WaitStrategy): this { return this.#set(this.container.waitFor(strategy)); }
  withStartupTimeout(ms: number): this { return this.#set(this.container.withStartupTimeout(ms)); }
  withNetworkMode(mode: 'isolated' | 'none' | 'host' | 'bridge'): this {
    return this.#set(this.container.withNetworkMode(mode === 'bridge' ? 'isolated' : mode));
  }
  withNetwork(network: Network): this { return this.#set(this.container.withNetwork(network)); }
  withNetworkAliases(...aliases: string[]): this {
    const nets = this.container.options.networks;
    const last = nets[nets.length - 1];
    if (!last) return this;
    return this.#set(new Container(this.container.options.image, { ...this.container.options, networks: [...nets.slice(0, -1), { network: last.network, aliases: [...last.aliases, ...aliases] }] }));
  }
  /** `memory` in GB and `cpu` in CPUs, as testcontainers. */
  withResourcesQuota(q: { memory?: number; cpu?: number }): this {
    let c = this.container;
    if (q.memory !== undefined) c = c.withMemory(Math.round(q.memory * 1024 ** 3));
    if (q.cpu !== undefined) c = c.withCpus(q.cpu);
    return this.#set(c);
  }
  withBindMounts(binds: { source: string; target: string; mode?: 'rw' | 'ro' }[]): this {
    let c = this.container;
    for (const b of binds) c = c.withBind(b.source, b.target, { readonly: b.mode === 'ro' });
    return this.#set(c);
  }
  withTmpFs(tmpfs: Record<string, string>): this {
    let c = this.container;
    for (const [path, opts] of Object.entries(tmpfs)) {
      const size = /(?:^|,)size=([^,]+)/.exec(opts)?.[1];
      c = c.withTmpfs(path, size ? { size } : {});
    }
    return this.#set(c);
  }
  withCopyContentToContainer(items: { content: string | Buffer; target: string; mode?: number }[]): this {
    let c = this.container;
    for (const i of items) c = c.withFile(i.target, i.content, { mode: i.mode });
    return this.#set(c);
  }
  withCopyFilesToContainer(items: { source: string; target: string; mode?: number }[]): this {
    let c = this.container;
    for (const i of items) c = c.withCopy(i.source, i.target, { mode: i.mode });
    return this.#set(c);
  }
  withCopyDirectoriesToContainer(items: { source: string; target: string; mode?: number }[]): this {
    return this.withCopyFilesToContainer(items);
  }
  withPullPolicy(policy: { shouldPull(): boolean } | 'missing' | 'always' | 'never'): this {
    const p = typeof policy === 'string' ? policy : policy.shouldPull() ? 'always' : 'missing';
    return this.#set(this.container.withPullPolicy(p));
  }
  async start(): Promise<StartedTestContainer> {
    let c = this.container;
    if (exposedHostPorts.size > 0) {
      const { options } = c.withHostAccess(...exposedHostPorts);
      const access = options.hostAccess!;
      c = new Container(options.image, { ...options, hostAccess: { ...access, aliases: [...new Set([...access.aliases, HOST_ALIAS])] } });
    }
    return new StartedTestContainer(await c.start());
  }
}


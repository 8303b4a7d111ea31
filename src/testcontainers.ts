/**
 * testcontainers-node's names over slipway's engine: migrate by changing one import.
 * @example
 * import { GenericContainer, Wait } from 'slipway/testcontainers';
 * const redis = await new GenericContainer('redis:7').withExposedPorts(6379).start();
 * @packageDocumentation
 */
import { Readable } from 'node:stream';
import { Container } from './api/container.js';
import { checkPort } from './api/container-options.js';
import type { StartedContainer } from './api/started-container.js';
import type { Network } from './api/network.js';
import type { WaitStrategy } from './api/wait/index.js';

export { Wait } from './api/wait/index.js';
export type { WaitStrategy } from './api/wait/index.js';
export { Network } from './api/network.js';
export { Network as StartedNetwork } from './api/network.js';
export { SlipwayError } from './errors.js';
/** The modules under the names of testcontainers' `@testcontainers/postgresql`, `/redis`… packages. */
export { PostgreSqlContainer, StartedPostgreSqlContainer, RedisContainer, StartedRedisContainer } from './modules/index.js';

/** A port for `withExposedPorts`: `6379`, `'53/udp'` or `{ container, host }` for a fixed host port. */
export type PortSpec = number | string | { container: number; host: number };

/** Host ports named by {@link TestContainers.exposeHostPorts}, for every container started after the call. */
const exposedHostPorts = new Set<number>();
const HOST_ALIAS = 'host.testcontainers.internal';

/** testcontainers' `TestContainers` namespace. */
export const TestContainers = Object.freeze({
  /**
   * testcontainers' `TestContainers.exposeHostPorts`: containers started afterwards (by {@link GenericContainer})
   * reach these TCP ports of the host's 127.0.0.1 as `host.testcontainers.internal:<port>` (also
   * `host.slipway.internal`), and no other port of the host's loopback. No sshd container: slipway's keeper relays.
   * Containers already running are not changed.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a port outside 1..65535.
   * @example
   * await TestContainers.exposeHostPorts(server.address().port);
   * const c = await new GenericContainer('curlimages/curl').withCommand(['curl', `http://host.testcontainers.internal:${port}`]).start();
   */
  async exposeHostPorts(...ports: number[]): Promise<void> {
    const checked = ports.map((p) => checkPort('exposeHostPorts port', p));
    for (const p of checked) exposedHostPorts.add(p);
  },
});

/** testcontainers' `GenericContainer`: a mutable builder whose `with*` methods return `this`. */
export class GenericContainer {
  protected container: Container;
  constructor(image: string) { this.container = new Container(image); }

  #set(next: Container): this { this.container = next; return this; }
  withExposedPorts(...ports: PortSpec[]): this {
    let c = this.container;
    for (const p of ports) c = typeof p === 'object' ? c.expose(p.container, p.host) : c.expose(p);
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

/** testcontainers' started container. */
export class StartedTestContainer implements AsyncDisposable {
  constructor(private readonly inner: StartedContainer) {}
  getHost(): string { return this.inner.host; }
  getMappedPort(port: number | string): number { return this.inner.getMappedPort(port); }
  getFirstMappedPort(): number { return this.inner.getFirstMappedPort(); }
  getId(): string { return this.inner.id; }
  getName(): string { return this.inner.name; }
  /** Also exposes slipway's own handle. */
  get slipway(): StartedContainer { return this.inner; }
  async exec(command: string | string[], opts: { env?: Record<string, string>; user?: string; workingDir?: string } = {}) {
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const r = await this.inner.exec(argv, { env: opts.env, user: opts.user, workdir: opts.workingDir });
    return { output: r.stdout + r.stderr, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? 128 };
  }
  /** Follows the logs as a Readable of lines, as testcontainers does. */
  async logs(opts: { since?: number; tail?: number } = {}): Promise<Readable> {
    const since = opts.since ? new Date(opts.since * 1000) : undefined;
    const lines = this.inner.logs({ follow: true, since });
    return Readable.from((async function* () { for await (const l of lines) yield `${l}\n`; })());
  }
  async copyContentToContainer(items: { content: string | Buffer; target: string; mode?: number }[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(Buffer.from(i.content), i.target, { mode: i.mode });
  }
  async copyFilesToContainer(items: { source: string; target: string; mode?: number }[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(i.source, i.target, { mode: i.mode });
  }
  async copyArchiveFromContainer(path: string): Promise<Readable> { return (await this.inner.copyFrom(path)) as Readable; }
  async restart(opts: { timeout?: number } = {}): Promise<void> { await this.inner.restart(opts); }
  async stop(opts: { timeout?: number; remove?: boolean } = {}) {
    await this.inner.stop(opts);
    if (opts.remove !== false) await this.inner.remove();
    return this;
  }
  async [Symbol.asyncDispose](): Promise<void> { await this.inner.remove(); }
}

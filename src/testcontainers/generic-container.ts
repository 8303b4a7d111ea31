/** testcontainers' `GenericContainer`: a mutable builder over slipway's immutable {@link Container}. */
import { PassThrough, Readable } from 'node:stream';
import { Container } from '../api/container.js';
import { Network } from '../api/network.js';
import type { StartedContainer } from '../api/started-container.js';
import type { SnapshotOptions } from '../api/snapshot-options.js';
import { HealthCheckWaitStrategy, type WaitStrategy } from '../api/wait/index.js';
import { invalidArgument, unsupported } from '../errors.js';
import { exposedHostPorts, HOST_ALIAS, type PortSpec } from './host-ports.js';
import type { ImagePullPolicy } from './pull-policy.js';
import { inspectResultOf, type InspectResult } from './inspect-result.js';
import { traceContainerOutput, traceLoggedSoFar } from './logger.js';
import { GenericContainerBuilder } from './generic-container-builder.js';
import { followedLogLines, noOverwriteUnsupported, StartedTestContainer, type ContentToCopy } from './started-test-container.js';

/**
 * testcontainers' `withHealthCheck` argument: `test` is `['CMD-SHELL', script]` or `['CMD', ...argv]`; durations in ms.
 * @example
 * import { GenericContainer, type HealthCheck } from 'slipway/testcontainers';
 * const check: HealthCheck = { test: ['CMD-SHELL', 'pg_isready -U postgres'], interval: 250, retries: 40 };
 * new GenericContainer('postgres:16').withHealthCheck(check);
 */
export interface HealthCheck {
  test: ['CMD-SHELL', string] | ['CMD', ...string[]] | string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

/**
 * testcontainers' `withResourcesQuota` argument: memory in GB (1024³ bytes), cpu in CPUs.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * new GenericContainer('postgres:16').withResourcesQuota({ memory: 0.5, cpu: 1 }); // 512 MiB, one CPU
 */
export interface ResourcesQuota {
  memory?: number;
  cpu?: number;
}

/** IPC modes every slipway container already has: its own IPC namespace. */
const OWN_IPC = new Set(['', 'private', 'shareable']);

/**
 * testcontainers' `GenericContainer`: a mutable builder whose `with*` methods change it and return `this`, so
 * statement-style configuration (`c.withEnvironment(...); await c.start()`) works as in testcontainers.
 * What slipway cannot do throws `SlipwayError` `ERR_UNSUPPORTED` naming the method and the alternative.
 * @example
 * import { GenericContainer, Wait } from 'slipway/testcontainers';
 * const container = new GenericContainer('redis:7');
 * container.withExposedPorts(6379).withWaitStrategy(Wait.forLogMessage('Ready to accept connections'));
 * await using redis = await container.start();
 * const url = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
 */
export class GenericContainer {
  protected container: Container;
  #aliases: string[] = [];
  #logConsumers: ((stream: Readable) => unknown)[] = [];
  #archives: { tar: Readable; target: string }[] = [];
  /** withCopyContentToContainer's Readables, by the file entry (of the container's options) they fill at start(). */
  #streamedContent = new Map<object, Readable>();
  #pullPolicy: ImagePullPolicy | undefined;
  #autoRemove = true;
  #copyUIDGID = false;
  #reuse = false;

  constructor(image: string) { this.container = new Container(image); }

  /**
   * testcontainers' `fromDockerfile`: a builder whose `build()` builds the image on slipway's runtime (no Docker)
   * and resolves with a `GenericContainer` of it.
   * @example
   * import { GenericContainer } from 'slipway/testcontainers';
   * const c = await GenericContainer.fromDockerfile('./app').withBuildArgs({ A: '1' }).build();
   */
  static fromDockerfile(context: string, dockerfileName = 'Dockerfile'): GenericContainerBuilder<GenericContainer> {
    return new GenericContainerBuilder(context, dockerfileName, (image) => new GenericContainer(image));
  }

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
  /**
   * Docker's `--privileged`, as far as a user namespace allows: every capability (held within the container's user
   * namespace, not over the host) and no seccomp filter. Devices of the host are not added, and the host's kernel
   * settings stay out of reach; a test that needs those needs a real privileged container.
   */
  withPrivilegedMode(): this {
    return this.#set(this.container.withAddedCapabilities('ALL').withSecurityOpt('seccomp=unconfined'));
  }
  /**
   * `private` and `shareable` (and Docker's default) are what every slipway container has: its own IPC namespace.
   * @throws SlipwayError `ERR_UNSUPPORTED` for `host`, `none` and `container:<id>`.
   */
  withIpcMode(ipcMode: string): this {
    if (!OWN_IPC.has(ipcMode)) {
      throw unsupported(`withIpcMode(${JSON.stringify(ipcMode)})`, 'every slipway container has its own IPC namespace (as "private")',
        'drop withIpcMode(), or share data through a volume (withBindMounts) or a network instead of System V IPC / shared memory');
    }
    return this;
  }
  /** Accepted, changes nothing: slipway always keeps the container's logs in its own file (what `logs()` reads). */
  withDefaultLogDriver(): this { return this; }
  /**
   * `withAutoRemove(false)`: `stop()` keeps the container (its files stay readable with copyArchiveFromContainer) unless
   * called with `{ remove: true }`; slipway still removes it when the test process exits. @defaultValue true
   */
  withAutoRemove(autoRemove: boolean): this { this.#autoRemove = autoRemove; return this; }
  /**
   * Accepted for compatibility, changes nothing: slipway has no Ryuk; every container, network and volume belongs to
   * the test process's keeper and is removed when the process exits, whatever is passed here.
   */
  withAutoCleanup(_autoCleanup: boolean): this { return this; }
  /**
   * testcontainers' reuse, across test runs ({@link Container.withReuse}): a `start()` with the same configuration
   * (wait and pull settings aside), in this process or a later one, returns the running container started with
   * `withReuse()` (same id and ports), restarted if it was stopped without removal, and calls no lifecycle hook but
   * `beforeContainerCreated` and no log consumer. The container belongs to the user's reuse keeper, which removes it
   * once no process used it for the `reuseIdleTimeout` setting. As in testcontainers, `stop()` (and `await using`)
   * stops and removes it unless `withAutoRemove(false)`. `TESTCONTAINERS_REUSE_ENABLE=false` (or
   * `testcontainers.reuse.enable=false` in ~/.testcontainers.properties) turns it off.
   */
  withReuse(): this { this.#reuse = true; return this; }
  /**
   * slipway's snapshots (not in testcontainers): the first start with this configuration is quiesced once ready and
   * its files are kept as a snapshot; later starts (in any process) run from it, skipping the image's init, and
   * `reset()` on the started container goes back to it. See `Container.withSnapshot` for the key and the options.
   * @example
   * import { GenericContainer, Wait } from 'slipway/testcontainers';
   * const redis = await new GenericContainer('redis:7').withExposedPorts(6379)
   *   .withWaitStrategy(Wait.forLogMessage('Ready to accept connections')).withSnapshot().start();
   * await redis.reset();
   */
  withSnapshot(opts: SnapshotOptions = {}): this { return this.#set(this.container.withSnapshot(opts)); }
  /** No snapshot (slipway's; turns off a module's default snapshot: PostgreSQL's, Redis' with initial data). */
  withoutSnapshot(): this { return this.#set(this.container.withoutSnapshot()); }
  withExtraHosts(hosts: { host: string; ipAddress: string }[]): this {
    return this.#set(this.container.withExtraHosts(Object.fromEntries(hosts.map((h) => [h.host, h.ipAddress]))));
  }
  withSharedMemorySize(bytes: number): this { return this.#set(this.container.withShmSize(bytes)); }
  /** Process limits as `docker run --ulimit`, e.g. `{ nofile: { soft: 1024, hard: 4096 } }`. */
  withUlimits(ulimits: Record<string, { hard: number | undefined; soft: number | undefined }>): this {
    const out: Record<string, { soft: number; hard: number }> = {};
    for (const [name, v] of Object.entries(ulimits)) {
      const hard = v?.hard ?? v?.soft;
      const soft = v?.soft ?? v?.hard;
      if (hard === undefined || soft === undefined) throw invalidArgument(`ulimit ${name}`, JSON.stringify(v), '{ soft, hard }');
      out[name] = { soft, hard };
    }
    return this.#set(this.container.withUlimits(out));
  }
  withWaitStrategy(strategy: WaitStrategy): this { return this.#set(this.container.waitFor(strategy)); }
  /**
   * A health check replacing the image's HEALTHCHECK; without a wait strategy the start waits until it passes (also
   * what `Wait.forHealthCheck()` runs). Durations in milliseconds.
   * @example
   * import { GenericContainer } from 'slipway/testcontainers';
   * new GenericContainer('redis:7').withHealthCheck({ test: ['CMD-SHELL', 'redis-cli ping'], interval: 250, retries: 20 });
   */
  withHealthCheck(healthCheck: HealthCheck): this { return this.#set(this.container.withHealthCheck(healthCheck)); }
  /** `0` fails the start at once unless there is nothing to wait for. */
  withStartupTimeout(ms: number): this { return this.#set(this.container.withStartupTimeout(ms)); }
  /** e.g. `linux/arm64`; defaults to the host's. */
  withPlatform(platform: string): this { return this.#set(this.container.withPlatform(platform)); }
  /**
   * `bridge` (slipway's `isolated`), `none`, `host`, or the name of a started {@link Network} (`network.getName()`,
   * as Docker accepts).
   * @throws SlipwayError `ERR_UNSUPPORTED` for `container:<id>`; `ERR_INVALID_ARGUMENT` for a name no started network has.
   */
  withNetworkMode(networkMode: string): this {
    if (networkMode === 'bridge' || networkMode === 'default' || networkMode === 'isolated') return this.#set(this.container.withNetworkMode('isolated'));
    if (networkMode === 'none' || networkMode === 'host') return this.#set(this.container.withNetworkMode(networkMode));
    if (networkMode.startsWith('container:')) {
      throw unsupported(`withNetworkMode(${JSON.stringify(networkMode)})`, "slipway containers cannot join another container's network namespace",
        'put both containers on one Network (withNetwork(network)) and reach the other by its name or alias');
    }
    return this.#set(this.container.withNetwork(networkMode));
  }
  withNetwork(network: Network): this { return this.#set(this.container.withNetwork(network)); }
  /** Names other containers on this container's network reach it by; order with `withNetwork` does not matter. */
  withNetworkAliases(...aliases: string[]): this { this.#aliases.push(...aliases); return this; }
  /**
   * `memory` in GB (1024³ bytes, rounded up to a byte as Docker does: 0.123 → 132070245) and `cpu` in CPUs, as
   * testcontainers. The kernel keeps a memory limit in pages, so the cgroup file shows it rounded down to 4 KiB
   * (132067328), as under Docker. Rootless it needs a delegated cgroup (testcontainers declares it unsupported there).
   */
  withResourcesQuota(q: ResourcesQuota): this {
    let c = this.container;
    // `{ memory: '512m' }` (Docker's spelling) would become NaN bytes and be reported as "invalid memory: NaN".
    if (q.memory !== undefined && typeof q.memory !== 'number') {
      throw invalidArgument('withResourcesQuota memory', q.memory, 'a number of gigabytes, as in testcontainers (0.5 is 512 MiB)');
    }
    if (q.cpu !== undefined && typeof q.cpu !== 'number') throw invalidArgument('withResourcesQuota cpu', q.cpu, 'a number of CPUs, e.g. 0.5');
    if (q.memory !== undefined) c = c.withMemory(Math.ceil(q.memory * 1024 ** 3));
    if (q.cpu !== undefined) c = c.withCpus(q.cpu);
    return this.#set(c);
  }
  withBindMounts(binds: { source: string; target: string; mode?: 'rw' | 'ro' }[]): this {
    let c = this.container;
    for (const b of binds) c = c.withBind(b.source, b.target, { readonly: b.mode === 'ro' });
    return this.#set(c);
  }
  /**
   * tmpfs mounts as Docker's `Tmpfs` (`{ '/path': 'rw,noexec,size=64m,mode=1777,uid=1000' }`): every option applies,
   * over Docker's defaults `noexec,nosuid,nodev` (`exec` lifts one); the last word of a kind wins.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for an unknown option (the hint lists Docker's) or a bad value.
   */
  withTmpFs(tmpfs: Record<string, string>): this {
    let c = this.container;
    for (const [path, opts] of Object.entries(tmpfs)) {
      if (opts !== undefined && opts !== null && typeof opts !== 'string') throw invalidArgument(`withTmpFs ${path}`, opts, 'a string of tmpfs options such as "rw,size=64m"');
      c = c.withTmpfs(path, { options: `noexec,nosuid,nodev,${opts ?? ''}` });
    }
    return this.#set(c);
  }
  /**
   * Files made from a string, Buffer or Readable (testcontainers' `Content`), placed before the process starts. A
   * Readable is read at `start()`, once: a second `start()` of this builder gets what is left of it (nothing).
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for other content, a relative target or a bad mode.
   */
  withCopyContentToContainer(items: ContentToCopy[]): this {
    let c = this.container;
    for (const i of items) {
      const content = i?.content;
      if (isStreamLike(content)) {
        // The target and mode are checked now, as for other content; the stream's bytes replace the empty one at start().
        c = c.withFile(i.target, Buffer.alloc(0), { mode: i.mode });
        this.#streamedContent.set(c.options.files[c.options.files.length - 1]!, content);
        continue;
      }
      if (typeof content !== 'string' && !Buffer.isBuffer(content)) {
        throw invalidArgument('withCopyContentToContainer content', content, 'a string, Buffer or Readable, as in testcontainers');
      }
      c = c.withFile(i.target, content, { mode: i.mode });
    }
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
  /**
   * Tar archives extracted into the container's `target` directory before the process starts (read at `start()`).
   * `tar` is any readable stream (Node's, or `readable-stream`'s as `archiver` and `tar-stream` make).
   */
  withCopyArchivesToContainer(archives: { tar: Readable; target: string }[]): this {
    for (const a of archives) {
      if (!isStreamLike(a?.tar)) throw invalidArgument('withCopyArchivesToContainer tar', a?.tar, 'a Readable of a tar archive');
      this.container.withArchive(Buffer.alloc(0), a.target); // checks the target now, as the other with* do
      this.#archives.push({ tar: a.tar, target: a.target });
    }
    return this;
  }
  /**
   * testcontainers' copy options. `copyUIDGID: true`: everything copied in before the start (files, directories,
   * content, archives) is owned by the container process's user (`withUser`, else the image's), as Docker's
   * `copyUIDGID` (archive entries keep their headers' uid/gid when that user is root, as Docker does for a container
   * without a user); otherwise copies are owned by root and archive entries keep their headers' uid/gid, as Docker does.
   * @throws SlipwayError `ERR_UNSUPPORTED` for `noOverwriteDirNonDir: true`.
   */
  withCopyToContainerOptions(options: { copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean }): this {
    if (options?.noOverwriteDirNonDir) throw noOverwriteUnsupported('withCopyToContainerOptions');
    this.#copyUIDGID = options?.copyUIDGID === true;
    return this;
  }
  /**
   * Called once the container's process runs (before the wait strategy, so a start that fails is seen too), with a
   * Readable of its output (stdout and stderr, line by line) that ends when the container exits.
   * @example
   * import { GenericContainer } from 'slipway/testcontainers';
   * new GenericContainer('redis:7').withLogConsumer((stream) => stream.on('data', (line) => process.stdout.write(line)));
   */
  withLogConsumer(logConsumer: (stream: Readable) => unknown): this {
    if (typeof logConsumer !== 'function') throw invalidArgument('withLogConsumer', logConsumer, 'a function receiving a Readable');
    this.#logConsumers.push(logConsumer);
    return this;
  }
  /** `PullPolicy.defaultPolicy()`, `PullPolicy.alwaysPull()` or any `{ shouldPull(): boolean }`, asked at `start()`. */
  withPullPolicy(policy: ImagePullPolicy | 'missing' | 'always' | 'never'): this {
    if (typeof policy === 'string') { this.#pullPolicy = undefined; return this.#set(this.container.withPullPolicy(policy)); }
    if (typeof policy?.shouldPull !== 'function') throw invalidArgument('pull policy', policy, 'PullPolicy.defaultPolicy(), PullPolicy.alwaysPull() or { shouldPull(): boolean }');
    this.#pullPolicy = policy;
    return this;
  }

  /** The slipway {@link Container} this builder describes now (before the steps `start()` adds). */
  protected async build(): Promise<Container> {
    let c = this.container;
    if (this.#pullPolicy) c = c.withPullPolicy(this.#pullPolicy.shouldPull() ? 'always' : 'missing');
    if (exposedHostPorts.size > 0) {
      const { options } = c.withHostAccess(...exposedHostPorts);
      const access = options.hostAccess!;
      c = new Container(options.image, { ...options, hostAccess: { ...access, aliases: [...new Set([...access.aliases, HOST_ALIAS])] } });
    }
    if (this.#aliases.length > 0) {
      const nets = c.options.networks;
      const last = nets[nets.length - 1];
      if (!last) {
        throw invalidArgument('withNetworkAliases', this.#aliases.join(', '), 'a container on a user network: add withNetwork(network) or withNetworkMode(network.getName())');
      }
      // Through withNetwork again, so the aliases are checked as native ones are.
      let rejoined = new Container(c.options.image, { ...c.options, networks: nets.slice(0, -1) });
      rejoined = rejoined.withNetwork(last.network as Network, { aliases: [...new Set([...last.aliases, ...this.#aliases])] });
      c = rejoined;
    }
    if (this.#streamedContent.size > 0) {
      const files = [];
      for (const f of c.options.files) {
        const stream = this.#streamedContent.get(f);
        files.push(stream ? { ...f, content: await readAll(stream) } : f);
      }
      c = new Container(c.options.image, { ...c.options, files });
    }
    for (const a of this.#archives) c = c.withArchive(await readAll(a.tar), a.target);
    if (this.#copyUIDGID) {
      c = new Container(c.options.image, { ...c.options, files: c.options.files.map((f) => (f.owner ? f : { ...f, ownerOfProcess: true })) });
    }
    return c;
  }

  /** Lifecycle hook (testcontainers'): called before the container is created. */
  protected beforeContainerCreated?(): Promise<void>;
  /**
   * Lifecycle hook: called with the new container's id before the wait. slipway creates and starts in one step, so
   * the process already runs here (testcontainers calls it between create and start).
   */
  protected containerCreated?(containerId: string): Promise<void>;
  /** Lifecycle hook: called before the wait strategy runs (not for a container handed back by `withReuse()`); `reused` is false. */
  protected containerStarting?(inspectResult: InspectResult, reused: boolean): Promise<void>;
  /** Lifecycle hook: called once the wait strategy passed, before `start()` resolves. */
  protected containerStarted?(container: StartedTestContainer, inspectResult: InspectResult, reused: boolean): Promise<void>;

  async start(): Promise<StartedTestContainer> {
    const consumers = this.#logConsumers;
    const hasHealthCheck = this.container.options.healthcheck !== undefined;
    // Passing the wait means healthy only when the wait was the health check (the default when there is one).
    const waitedForHealth = hasHealthCheck && (this.container.options.waitStrategy === undefined || this.container.options.waitStrategy instanceof HealthCheckWaitStrategy);
    await this.beforeContainerCreated?.();
    let startedAt = new Date();
    const built = await this.build();
    const inner = await (this.#reuse ? built.withReuse() : built).start({
      onLaunched: async (c) => {
        startedAt = new Date();
        // A container handed back for reuse was created by an earlier start: as testcontainers, no hooks, no consumers.
        if (c.reused) return;
        traceContainerOutput(c);
        // As testcontainers: consumers get the logs once the process runs, before the wait (so a failed start shows too).
        // Not awaited, as testcontainers: a consumer that reads to the end returns when the container exits.
        for (const consume of consumers) void consume(followedLogLines(c));
        await this.containerCreated?.(c.id);
        await this.containerStarting?.(inspectResultOf(c, startedAt, hasHealthCheck ? 'starting' : 'none'), false);
      },
    });
    const reused = inner.reused;
    if (!reused) await traceLoggedSoFar(inner);
    const started = this.#autoRemove ? new StartedTestContainer(inner) : new KeptOnStop(inner);
    if (this.containerStarted && !reused) {
      try {
        await this.containerStarted(started, inspectResultOf(inner, startedAt, waitedForHealth ? 'healthy' : hasHealthCheck ? 'starting' : 'none'), false);
      } catch (err) {
        // A start that fails leaves nothing behind, as when the wait fails.
        await inner.remove().catch(() => {});
        throw err;
      }
    }
    return started;
  }
}

/** A started container of `withAutoRemove(false)`: `stop()` keeps it unless asked with `{ remove: true }`. */
class KeptOnStop extends StartedTestContainer {
  constructor(inner: StartedContainer) { super(inner); }
  override async stop(opts: { timeout?: number; remove?: boolean } = {}) {
    return super.stop({ ...opts, remove: opts.remove ?? false });
  }
}

/** A readable stream, whichever implementation made it: async-iterable, or at least pipe-able. */
function isStreamLike(x: unknown): x is Readable {
  if (x instanceof Readable) return true;
  const o = x as { [Symbol.asyncIterator]?: unknown; pipe?: unknown; on?: unknown } | null;
  return typeof o === 'object' && o !== null && (typeof o[Symbol.asyncIterator] === 'function' || (typeof o.pipe === 'function' && typeof o.on === 'function'));
}

async function readAll(source: Readable): Promise<Buffer> {
  const stream = typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' ? source : source.pipe(new PassThrough());
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

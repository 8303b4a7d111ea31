/** testcontainers' `StartedTestContainer` and `StoppedTestContainer` over slipway's {@link StartedContainer}. */
import { constants } from 'node:os';
import { Readable } from 'node:stream';
import { posix } from 'node:path';
import type { StartedContainer } from '../api/started-container.js';
import { SlipwayError, unsupported } from '../errors.js';
import { traceContainerOutput, traceLoggedSoFar } from './logger.js';

/**
 * testcontainers' `ExecOptions`.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * await using c = await new GenericContainer('busybox').withCommand(['sleep', 'infinity']).start();
 * await c.exec(['sh', '-c', 'pwd; id -u; echo $A'], { workingDir: '/tmp', user: '1000', env: { A: '1' } });
 */
export interface ExecOptions { workingDir: string; user: string; env: Record<string, string> }
/**
 * testcontainers' `ExecResult`: `output` is stdout and stderr interleaved as they were read.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * await using c = await new GenericContainer('busybox').withCommand(['sleep', 'infinity']).start();
 * const { exitCode, stdout, stderr, output } = await c.exec('ls /nope');
 */
export interface ExecResult { output: string; stdout: string; stderr: string; exitCode: number }
/**
 * testcontainers' `StopOptions`: `timeout` in ms before SIGKILL (default 0), `remove` (default: the container's auto-remove, true).
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * const c = await new GenericContainer('redis:7').start();
 * await c.stop({ timeout: 5000, remove: true });
 */
export interface StopOptions { timeout: number; remove: boolean; removeVolumes: boolean }
/**
 * testcontainers' `RestartOptions`: `timeout` in ms before SIGKILL (default 0).
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * await using c = await new GenericContainer('redis:7').start();
 * await c.restart({ timeout: 1000 }); // SIGTERM, SIGKILL after 1 s, then the wait strategy again
 */
export interface RestartOptions { timeout: number }
/**
 * A host file for `withCopyFilesToContainer`/`copyFilesToContainer`.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * new GenericContainer('nginx:1').withCopyFilesToContainer([{ source: './nginx.conf', target: '/etc/nginx/nginx.conf' }]);
 */
export interface FileToCopy { source: string; target: string; mode?: number }
/**
 * A host directory for `withCopyDirectoriesToContainer`/`copyDirectoriesToContainer`.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * new GenericContainer('nginx:1').withCopyDirectoriesToContainer([{ source: './site', target: '/usr/share/nginx/html' }]);
 */
export interface DirectoryToCopy { source: string; target: string; mode?: number }
/**
 * A file made from a string, Buffer or Readable for `withCopyContentToContainer`/`copyContentToContainer`.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * new GenericContainer('nginx:1').withCopyContentToContainer([{ content: '<h1>hi</h1>', target: '/usr/share/nginx/html/index.html', mode: 0o644 }]);
 */
export interface ContentToCopy { content: string | Buffer | Readable; target: string; mode?: number }

/**
 * testcontainers' stopped container: its id, and its files while it was stopped without `remove`.
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * const c = await new GenericContainer('busybox').withCommand(['sh', '-c', 'echo hi > /out; sleep 60']).start();
 * const stopped = await c.stop({ remove: false });
 * const tar = await stopped.copyArchiveFromContainer('/out');
 */
export class StoppedTestContainer {
  readonly #inner: StartedContainer | StoppedTestContainer;
  /** @internal (slipway's handle, or the stopped container an `AbstractStoppedContainer` wraps) */
  constructor(inner: StartedContainer | StoppedTestContainer) { this.#inner = inner; }
  getId(): string { return this.#inner instanceof StoppedTestContainer ? this.#inner.getId() : this.#inner.id; }
  /**
   * A tar stream of `path` as the container left it. Needs `stop({ remove: false })` (or `withAutoRemove(false)`).
   * @throws SlipwayError `ERR_CONTAINER_NOT_RUNNING` after the container was removed; `ERR_COPY_SOURCE_MISSING`.
   */
  async copyArchiveFromContainer(path: string): Promise<NodeJS.ReadableStream> {
    return this.#inner instanceof StoppedTestContainer ? this.#inner.copyArchiveFromContainer(path) : this.#inner.copyFrom(path);
  }
}

async function contentBuffer(content: string | Buffer | Readable): Promise<Buffer> {
  if (typeof content === 'string' || Buffer.isBuffer(content)) return Buffer.from(content);
  const chunks: Buffer[] = [];
  for await (const c of content) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/**
 * testcontainers' started container. Answers from what slipway knows of the container (no inspect call):
 * `getName()` is Docker's `/name` form, `getNetworkNames()` lists user networks (else `bridge`).
 * @example
 * import { GenericContainer } from 'slipway/testcontainers';
 * await using c = await new GenericContainer('redis:7').withExposedPorts(6379).start();
 * c.getMappedPort(6379);
 * const { output, exitCode } = await c.exec(['redis-cli', 'ping']);
 */
export class StartedTestContainer implements AsyncDisposable {
  #stopping: Promise<StoppedTestContainer> | undefined;
  readonly #autoRemove: boolean;

  /**
   * @param inner - slipway's handle
   * @param opts.autoRemove - whether `stop()` removes by default (testcontainers' `withAutoRemove`). @defaultValue true
   */
  constructor(private readonly inner: StartedContainer, opts: { autoRemove?: boolean } = {}) {
    this.#autoRemove = opts.autoRemove ?? true;
  }

  /** Also exposes slipway's own handle. */
  get slipway(): StartedContainer { return this.inner; }

  getHost(): string { return this.inner.host; }
  getHostname(): string { return this.inner.hostname; }
  getId(): string { return this.inner.id; }
  /** Docker's form: `/` and the name. */
  getName(): string { return `/${this.inner.name}`; }
  /** As Docker shows them: the image's labels, then the container's (`withLabels`), which win. */
  getLabels(): Record<string, string> { return { ...this.inner.imageLabels, ...this.inner.labels }; }
  getNetworkNames(): string[] { return [...this.inner.networks.keys()]; }
  /** @throws SlipwayError `ERR_NETWORK` when the container is not on that network. */
  getNetworkId(networkName: string): string { return this.inner.getNetworkId(networkName); }
  /** @throws SlipwayError `ERR_NETWORK` when the container is not on that network. */
  getIpAddress(networkName: string): string { return this.inner.getIpAddress(networkName); }

  /** The host port for `port` (`8080`, `'8080/tcp'`, `'5005/udp'`, or `(5005, 'udp')`). @throws SlipwayError `ERR_PORT_NOT_EXPOSED` */
  getMappedPort(port: number | string, protocol?: string): number {
    const spec = typeof port === 'number' && protocol !== undefined ? `${port}/${protocol.toLowerCase()}` : port;
    try {
      return this.inner.getMappedPort(spec);
    } catch (e) {
      throw this.#notExposed(e, typeof spec === 'number' || /^\d+(\/tcp)?$/i.test(spec) ? String(parseInt(String(spec), 10)) : `'${spec}'`);
    }
  }
  /** The host port of the first exposed port, TCP or UDP. @throws SlipwayError `ERR_PORT_NOT_EXPOSED` */
  getFirstMappedPort(): number {
    try {
      return this.inner.getFirstMappedPort();
    } catch (e) {
      throw this.#notExposed(e, 'port');
    }
  }
  /** The native API's hint names `.expose()`; here the builder's method is testcontainers' `withExposedPorts()`. */
  #notExposed(e: unknown, arg: string): unknown {
    if (!SlipwayError.is(e, 'ERR_PORT_NOT_EXPOSED')) return e;
    const published = [...this.inner.ports.keys()];
    return new SlipwayError('ERR_PORT_NOT_EXPOSED', e.shortMessage, {
      hint: `add .withExposedPorts(${arg}) to the container before start(); published: ${published.join(', ') || 'none'}`,
    });
  }

  /**
   * Runs a command; a string is split on spaces, as testcontainers does (use an array, or `['sh', '-c', …]`, for
   * quoting). Never rejects for a non-zero exit.
   */
  async exec(command: string | string[], opts: Partial<ExecOptions> = {}): Promise<ExecResult> {
    const argv = typeof command === 'string' ? command.split(' ').filter((a) => a !== '') : command;
    const r = await this.inner.exec(argv, { env: opts.env, user: opts.user, workdir: opts.workingDir });
    return { output: r.output, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? 128 + signalNumber(r.signal) };
  }

  /**
   * The logs as a Readable of lines (each ending with `\n`), following new ones until the container stops.
   * @param opts.since - unix time in seconds: only lines written since
   * @param opts.tail - only the last `tail` lines written so far, then new ones
   */
  /**
   * @throws SlipwayError `ERR_CONTAINER_NOT_RUNNING` once the container was removed (testcontainers' logs() rejects
   *   there too: Docker has no such container).
   */
  async logs(opts: { since?: number; tail?: number } = {}): Promise<Readable> {
    if (this.inner.removed) {
      throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.inner.name} was removed: its logs went with it`, {
        hint: 'read them before the container is removed: stop({ remove: false }) or withAutoRemove(false) keep it (a compose environment\'s stop() keeps its containers, down() removes them), or follow them from the start with withLogConsumer()',
      });
    }
    const since = opts.since ? new Date(opts.since * 1000) : undefined;
    return followedLogLines(this.inner, { since, tail: opts.tail });
  }

  async copyContentToContainer(items: ContentToCopy[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(await contentBuffer(i.content), i.target, { mode: i.mode });
  }
  async copyFilesToContainer(items: FileToCopy[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(i.source, i.target, { mode: i.mode });
  }
  /** Copies each host directory's contents to its target (created if missing); `mode` applies to the files copied. */
  async copyDirectoriesToContainer(items: DirectoryToCopy[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(i.source, i.target, { mode: i.mode });
  }
  /**
   * Unpacks a tar stream below `target` (files, directories, symlinks and hard links, with the archive's modes and
   * the uid/gid its headers name, as Docker's put-archive). `copyUIDGID: true` gives everything to the container
   * process's user instead when that user is not root (as Docker does when the container has a user).
   * @throws SlipwayError `ERR_UNSUPPORTED` for `noOverwriteDirNonDir: true`, or for `copyUIDGID` when the image has no
   *   `id` to ask the user's ids with.
   */
  async copyArchiveToContainer(tar: Readable, target = '/', options: { copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean } = {}): Promise<void> {
    if (options.noOverwriteDirNonDir) throw noOverwriteUnsupported('copyArchiveToContainer');
    const owner = options.copyUIDGID ? await this.#processOwner() : undefined;
    await this.inner.copyArchiveTo(tar, posix.normalize(target), { owner: owner && owner.uid !== 0 ? owner : 'archive' });
  }

  /** The uid/gid the container's process runs as (what an exec without a user runs as). */
  async #processOwner(): Promise<{ uid: number; gid: number }> {
    const r = await this.inner.exec(['id', '-u']).then((u) => this.inner.exec(['id', '-g']).then((g) => [u, g] as const)).catch(() => undefined);
    const [uid, gid] = (r ?? []).map((x) => (x.exitCode === 0 ? Number(x.stdout.trim()) : NaN));
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid: uid!, gid: gid! };
    throw unsupported('copyArchiveToContainer(…, { copyUIDGID: true })', "the image has no working 'id' to learn the process user's uid/gid from",
      'drop copyUIDGID and set the owners in the archive headers (uid/gid), or copy before the start with withCopyArchivesToContainer');
  }
  /** A tar stream of `path` (its last component first), read from the container as you read it. */
  async copyArchiveFromContainer(path: string): Promise<NodeJS.ReadableStream> {
    return this.inner.copyFrom(path);
  }

  /**
   * testcontainers' `commit()`: saves the container's changes and config as an image `repo:tag` in slipway's store
   * (see `StartedContainer.commit`) and returns that name, which `new GenericContainer(name)` starts.
   * `deleteOnExit` is accepted: the image stays in the store like a built one (`slipway prune` removes it). `pause`
   * is accepted and ignored: the container keeps running while its changes are read (stop it first for a consistent image).
   */
  async commit(options: { repo: string; tag: string; comment?: string; author?: string; pause?: boolean; changes?: string[]; deleteOnExit?: boolean }): Promise<string> {
    return this.inner.commit({ tag: `${options.repo}:${options.tag}`, changes: options.changes, author: options.author, comment: options.comment });
  }

  /**
   * slipway's `reset()` (not in testcontainers): back to the snapshot of a container started with `withSnapshot()`,
   * on the same host ports, ready again when it resolves (see `StartedContainer.reset`).
   * @throws SlipwayError `ERR_SNAPSHOT` when it was started without `withSnapshot()`.
   */
  async reset(): Promise<void> {
    await this.inner.reset();
    traceContainerOutput(this.inner);
    this.#stopping = undefined;
  }

  /**
   * Restarts the process (SIGKILL after `timeout` ms, default 0 as testcontainers) and runs the wait strategy again
   * (log messages since the restart); resolves when the container is ready.
   */
  async restart(opts: Partial<RestartOptions> = {}): Promise<void> {
    await this.inner.restart({ timeout: opts.timeout ?? 0 });
    // The first run's trace (DEBUG=testcontainers:containers) may have ended with it.
    traceContainerOutput(this.inner);
    await traceLoggedSoFar(this.inner);
    // Running again: the next stop() stops this run (a stop before the restart is spent).
    this.#stopping = undefined;
  }

  /**
   * Stops the container (SIGKILL after `timeout` ms, default 0 as testcontainers) and removes it unless
   * `remove: false` (or `withAutoRemove(false)`). Idempotent: concurrent and later calls share the first stop;
   * a later `stop({ remove: true })` still removes.
   */
  async stop(opts: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    const remove = opts.remove ?? this.#autoRemove;
    this.#stopping ??= (async () => {
      await this.inner.stop({ timeout: opts.timeout ?? 0 });
      return new StoppedTestContainer(this.inner);
    })();
    const stopped = await this.#stopping;
    if (remove) await this.inner.remove();
    return stopped;
  }

  /** `await using`: {@link stop}. */
  async [Symbol.asyncDispose](): Promise<void> { await this.stop(); }
}

/**
 * `c`'s log lines as a Readable (each ending with `\n`), following them until the container exits. Destroying it
 * stops the reader at once: Readable.from's destroy waits for the generator's pending read, which a follower settles
 * only at the next line or at the container's exit, so it is aborted first.
 */
export function followedLogLines(c: StartedContainer, opts: { since?: Date; tail?: number } = {}): Readable {
  const abort = new AbortController();
  const lines = c.logs({ follow: true, since: opts.since, tail: opts.tail, signal: abort.signal });
  const stream = Readable.from((async function* () { for await (const l of lines) yield `${l}\n`; })());
  const destroy = stream._destroy.bind(stream);
  stream._destroy = (err, cb) => { abort.abort(); destroy(err, cb); };
  return stream;
}

/** testcontainers' `noOverwriteDirNonDir`, which slipway's copies cannot honour. */
export function noOverwriteUnsupported(method: string) {
  return unsupported(`${method}({ noOverwriteDirNonDir: true })`, 'slipway cannot refuse a copy that replaces a directory with a file or the reverse',
    'leave noOverwriteDirNonDir unset and copy to paths that do not exist yet in the image');
}

/** A process ended by a signal reports 128 + its number, as a shell (and Docker) do. */
function signalNumber(signal: string | null): number {
  return (signal ? (constants.signals as Record<string, number>)[signal] : undefined) ?? 0;
}

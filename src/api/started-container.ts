import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { SlipwayError, invalidArgument } from '../errors.js';
import {
  entriesOfArchive, extractToHost, hostEntries, readLogLines, tarOfEntries, type ExecOptions, type ExecResult, type ExitInfo, type LaunchPlan, type RuntimeContainer,
} from '../runtime/index.js';
import { parsePortSpec } from './port-spec.js';
import { commitContainer } from '../build/commit.js';
import { logger } from '../internal/debug.js';
import { sinceNextMillisecond } from './log-since.js';

const log = logger('start');

export type { ExecOptions, ExecResult, ExitInfo };

/**
 * Options for {@link StartedContainer.logs}.
 * @example
 * import { Container } from 'slipway';
 * await using c = await new Container('redis:7').start();
 * for await (const line of c.logs({ follow: true, tail: 10, stderr: false })) if (line.includes('Ready to accept')) break;
 */
export interface LogsOptions {
  /** Keep yielding new lines until the container exits. @defaultValue false */
  follow?: boolean;
  /** Only lines written at or after this time. */
  since?: Date;
  /** Only the last `tail` lines written so far (then, with `follow`, every new one). */
  tail?: number;
  /** @defaultValue true */
  stdout?: boolean;
  /** @defaultValue true */
  stderr?: boolean;
  signal?: AbortSignal;
}

/**
 * Options for {@link StartedContainer.commit}. The container keeps running during a commit (Docker pauses it; a
 * cgroup freeze is not available rootless everywhere): a file it writes meanwhile may be caught half-written, so stop
 * it (or quiesce the service) first when that matters.
 * @example
 * import { Container } from 'slipway';
 * await using c = await new Container('busybox').withCommand(['sleep', '1000']).start();
 * await c.exec(['sh', '-c', 'echo hi > /greeting']);
 * const ref = await c.commit({ tag: 'myapp:seeded', changes: ['ENV SEEDED=1'] });
 * await using again = await new Container(ref).withCommand(['sleep', '1000']).start();
 */
export interface CommitOptions {
  /** `name[:tag]` for the image. @defaultValue `localhost/slipway-commit:<first 12 hex digits of its config digest>` */
  tag?: string;
  /** Dockerfile config instructions applied to the committed config (`docker commit --change`): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK. */
  changes?: readonly string[];
  /** The image's `author`. */
  author?: string;
  /** The comment of the commit's history entry. */
  comment?: string;
}

/**
 * Log lines as an async iterable, plus `text()` for everything at once. A line longer than 1 MiB comes as pieces of
 * 1 MiB (a container printing without newlines cannot make the reader hold it whole); `text()` joins them as written.
 * @example
 * import { Container } from 'slipway';
 * await using c = await new Container('redis:7').start();
 * const all = await c.logs().text();
 */
export interface LogStream extends AsyncIterable<string> {
  /** The output as written (lines end with `\n` unless the stream ended without one). */
  text(): Promise<string>;
}

let outputReader: (c: StartedContainer) => Promise<{ stdout: string; stderr: string }>;

/**
 * What `Container.run()` returns as output: the whole log as `logs({ stderr: false }).text()` and
 * `logs({ stdout: false }).text()` give it, from one read of the log instead of two.
 * @internal
 */
export function outputOf(c: StartedContainer): Promise<{ stdout: string; stderr: string }> {
  return outputReader(c);
}

async function readOutput(logPath: string, done: () => boolean): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  for await (const l of readLogLines(logPath, { done })) out[l.stream] += l.unterminated || l.cut ? l.text : `${l.text}\n`;
  return out;
}

/**
 * The snapshot a started container runs from ({@link StartedContainer.snapshot}).
 * @example
 * import { Container } from 'slipway';
 * await using c = await new Container('redis:7').expose(6379).withSnapshot().start();
 * c.snapshot?.created; // true on the start that made it, false on starts from it
 */
export interface SnapshotInfo {
  /** The snapshot's key (`sha256:…`): image, env, command, entrypoint, user, workdir, files, mount targets, salt. */
  key: string;
  /** Whether this start made the snapshot (else it started from one made earlier). */
  created: boolean;
  /** The read-only layer dir in the store that the container runs over. */
  layerDir: string;
}

/**
 * What a started container keeps of its options: a `ContainerOptions` is one. Structural, so this file needs nothing
 * of container-options.ts (whose snapshot callbacks take a StartedContainer).
 * @internal
 */
export type StartedOptions = Readonly<LaunchPlan & { labels: Readonly<Record<string, string>>; stopTimeout: number }>;

/**
 * A running (or exited but not yet removed) container. Stop it with `stop()`, or let `await using`
 * do it; `stop()` and `remove()` are idempotent.
 * @example
 * import { Container } from 'slipway';
 * await using redis = await new Container('redis:7').expose(6379).start();
 * const url = `redis://${redis.host}:${redis.getMappedPort(6379)}`;
 * const { stdout } = await redis.exec(['redis-cli', 'ping']); // 'PONG\n'
 */
export class StartedContainer implements AsyncDisposable {
  static {
    outputReader = (c) => {
      const rt = c.#rt;
      return readOutput(rt.logPath, () => rt.hasExited());
    };
  }

  readonly #rt: RuntimeContainer;
  readonly #options: StartedOptions;
  readonly #ready: ((since: Date) => Promise<void>) | undefined;
  readonly host: string;
  private readonly stopTimeout: number;
  #removed = false;
  #stopped: Promise<ExitInfo> | undefined;
  readonly #snapshot: { current?: SnapshotInfo } | undefined;

  /**
   * @internal
   * @param ready - runs the wait strategy again on lines logged since the given time (after a restart)
   */
  constructor(rt: RuntimeContainer, init: { host: string; options: StartedOptions; ready?: (since: Date) => Promise<void>; snapshot?: { current?: SnapshotInfo } }) {
    this.#snapshot = init.snapshot;
    this.#rt = rt;
    this.#options = init.options;
    this.#ready = init.ready;
    this.host = init.host;
    this.stopTimeout = init.options.stopTimeout;
  }

  /** Container id (64 hex characters). */
  get id(): string { return this.#rt.id; }
  /** Container name (given with `withName`, or generated). */
  get name(): string { return this.#rt.name; }
  /** The address that reaches published ports (testcontainers' `getHost()`). */
  getHost(): string { return this.host; }
  /** The container's hostname (withHostname, else the first 12 characters of its id). */
  get hostname(): string { return this.#rt.hostname; }
  /** The labels given with `withLabels`. */
  get labels(): Readonly<Record<string, string>> { return this.#options.labels; }
  /** The labels of the image it was started from (its config's `Labels`, e.g. a Dockerfile's `LABEL`). */
  get imageLabels(): Readonly<Record<string, string>> { return this.#rt.imageLabels; }
  /** The image reference it was started from. */
  get image(): string { return this.#options.image; }

  /**
   * The networks the container is on, by name: its user networks in join order, else (default network mode, no user
   * network) `bridge` for its address behind slirp4netns/pasta, as Docker names its default network.
   */
  get networks(): ReadonlyMap<string, { id: string; ip: string }> {
    const out = new Map<string, { id: string; ip: string }>();
    const addresses = this.#rt.networkAddresses();
    for (const { network } of this.#options.networks) {
      const ip = addresses.get(network.name);
      if (ip !== undefined) out.set(network.name, { id: (network as { id?: string }).id ?? network.name, ip });
    }
    if (out.size === 0 && this.#options.networkMode === 'isolated' && this.#rt.outboundIp) out.set('bridge', { id: 'bridge', ip: this.#rt.outboundIp });
    return out;
  }

  /**
   * The container's address on a network it is on ({@link networks}).
   * @throws SlipwayError `ERR_NETWORK` naming the networks it is on.
   */
  getIpAddress(networkName: string): string { return this.#network(networkName).ip; }

  #network(name: string): { id: string; ip: string } {
    const nets = this.networks;
    const n = nets.get(name);
    if (!n) {
      throw new SlipwayError('ERR_NETWORK', `container ${this.name} is not on network ${JSON.stringify(name)}`, {
        hint: `it is on: ${[...nets.keys()].join(', ') || 'no network (network mode none or host)'}`,
      });
    }
    return n;
  }

  /** The id of a network the container is on. @throws SlipwayError `ERR_NETWORK` */
  getNetworkId(networkName: string): string { return this.#network(networkName).id; }

  /** True once {@link remove} was called. */
  get removed(): boolean { return this.#removed; }

  /** Published ports: `'<container port>/<tcp|udp>'` → host port, in the order they were exposed. */
  get ports(): ReadonlyMap<string, number> { return new Map(this.#rt.hostPorts); }

  /** Host pid of the container's init, for debugging. */
  get pid(): number { return this.#rt.hostPid; }

  /** The host port that reaches container `port` (`6379`, `'6379/tcp'`, `'53/udp'`). */
  getMappedPort(port: number | string): number {
    const { port: p, protocol } = parsePortSpec('port', port);
    const hostPort = this.#rt.hostPorts.get(`${p}/${protocol}`);
    if (hostPort === undefined) {
      throw new SlipwayError('ERR_PORT_NOT_EXPOSED', `container port ${p}/${protocol} is not published`, {
        hint: `add .expose(${protocol === 'tcp' ? p : `'${p}/${protocol}'`}) to the builder; published: ${[...this.#rt.hostPorts.keys()].join(', ') || 'none'}`,
      });
    }
    return hostPort;
  }

  /** The host port of the first published port. */
  getFirstMappedPort(): number {
    const first = this.#rt.hostPorts.values().next();
    if (first.done) throw new SlipwayError('ERR_PORT_NOT_EXPOSED', 'the container publishes no ports', { hint: 'add .expose(port) to the builder' });
    return first.value;
  }

  /** Runs a command inside the container; resolves with its exit code and output. */
  exec(command: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string')) {
      throw invalidArgument('exec command', command, 'a non-empty array of strings such as ["sh", "-c", "echo hi"]');
    }
    return this.#rt.exec(command, opts);
  }

  /**
   * The container's log lines (stdout and stderr). A stopped container keeps them until {@link remove}; a stream
   * following them when the container is removed ends.
   * @throws SlipwayError `ERR_CONTAINER_NOT_RUNNING` after `remove()` (the log went with the container: an empty
   *   stream would read as "it printed nothing"); `ERR_INVALID_ARGUMENT` for a bad `tail`.
   */
  logs(opts: LogsOptions = {}): LogStream {
    if (this.#removed) {
      throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed: its logs went with it`, {
        hint: 'read them before remove() (a stopped container keeps its logs), or follow them from the start with logs({ follow: true })',
      });
    }
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) throw invalidArgument('logs tail', opts.tail, 'an integer >= 0');
    const rt = this.#rt;
    async function* lines() {
      let skip = 0;
      if (opts.tail !== undefined) {
        // Lines written so far, counted first: the stream starts at the last `tail` of them.
        let n = 0;
        for await (const l of readLogLines(rt.logPath, { ...opts, follow: false })) if (!l.unterminated && !l.cut) n++;
        skip = Math.max(0, n - opts.tail);
      }
      for await (const l of readLogLines(rt.logPath, { ...opts, done: () => rt.hasExited() })) {
        // A cut piece belongs to the line its last piece ends: skipped with it.
        if (skip > 0 && !l.unterminated) { if (!l.cut) skip--; continue; }
        yield l;
      }
    }
    return {
      [Symbol.asyncIterator]: () => mapLines(lines()),
      /** The output as written: lines end with `\n` unless the stream ended without one. */
      async text() {
        let out = '';
        for await (const l of lines()) out += l.unterminated || l.cut ? l.text : `${l.text}\n`;
        return out;
      },
    };
  }

  /** Resolves when the container's process exits. */
  wait(): Promise<ExitInfo> { return this.#rt.exited(); }

  /**
   * Commits the container's changes as an image in the local store (Docker's `commit`): its writable layer (files
   * written and deleted since it was created) as one more layer over its image's, and its config as it runs
   * (Env, Cmd, Entrypoint, User, WorkingDir, exposed ports, labels) with `changes` applied; history entry `commit`.
   * `new Container(ref)` starts the image without a registry. A running container is not paused (see
   * {@link CommitOptions}); the commit never follows a link the container planted. On an engine
   * (`SLIPWAY_RUNTIME=engine`) the engine commits and keeps the image, where a later start on it finds it.
   * @returns the normalized reference (`localhost/slipway-commit:<id>` without `tag`)
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` (bad tag or change), `ERR_STORE` (a file the container made
   *   unreadable, rootless), `ERR_CONTAINER_NOT_FOUND` (already removed)
   */
  async commit(opts: CommitOptions = {}): Promise<string> {
    if (this.#removed) throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `container ${this.name} was removed: there is nothing to commit`, { hint: 'commit before remove()' });
    const o = this.#options;
    const { ref } = await commitContainer({
      container: this.#rt,
      run: {
        command: o.command, entrypoint: o.entrypoint, env: o.env, user: o.user, workdir: o.workdir, labels: o.labels,
        exposedPorts: o.ports.map((p) => `${p.container}/${p.protocol}`),
      },
      tag: opts.tag, changes: opts.changes, author: opts.author, comment: opts.comment,
    });
    return ref;
  }

  /**
   * Sends the stop signal (withStopSignal, else the image's StopSignal, else SIGTERM), then SIGKILL after
   * `timeout` ms. Idempotent; returns how the process ended.
   */
  stop(opts: { timeout?: number } = {}): Promise<ExitInfo> {
    if (this.#removed) return this.#stopped ?? this.#rt.exited();
    this.#stopped ??= this.#rt.stop(opts.timeout ?? this.stopTimeout);
    return this.#stopped;
  }

  /**
   * Stops and starts the process again, keeping the container's writable layer and ports, then waits as `start()` did
   * (the same strategy and timeout; a log message must appear again, after the restart). Returns when it is ready.
   * @throws SlipwayError `ERR_WAIT_TIMEOUT` when it is not ready again in time (the container keeps running:
   *   remove it, or retry); `ERR_CONTAINER_NOT_RUNNING` after `remove()`.
   */
  async restart(opts: { timeout?: number } = {}): Promise<void> {
    this.#checkNotRemoved();
    this.#stopped = undefined;
    const since = sinceNextMillisecond();
    await this.#rt.restart(opts.timeout ?? this.stopTimeout);
    await this.#ready?.(since);
  }

  /** The snapshot it runs from (`Container.withSnapshot`), once there is one; else undefined. */
  get snapshot(): SnapshotInfo | undefined {
    const c = this.#snapshot?.current;
    return c && { ...c };
  }

  /**
   * Back to the snapshot: kills the process (its changes are dropped, so no clean shutdown is waited for), drops the
   * writable layer, starts again from the snapshot on the same host ports and waits as a start from the snapshot
   * does. Everything written since the start (or the last reset) is gone.
   * @throws SlipwayError `ERR_SNAPSHOT` when the container was not started with `withSnapshot()`; `ERR_WAIT_TIMEOUT`;
   *   `ERR_CONTAINER_NOT_RUNNING` after `remove()`.
   * @example
   * import { Container } from 'slipway';
   * await using redis = await new Container('redis:7').expose(6379).withSnapshot().start();
   * await redis.exec(['redis-cli', 'set', 'k', 'v']);
   * await redis.reset(); // k is gone
   */
  async reset(): Promise<void> {
    this.#checkNotRemoved();
    const snap = this.#snapshot?.current;
    if (!snap) {
      throw new SlipwayError('ERR_SNAPSHOT', `container ${this.name} has no snapshot to reset to`, {
        hint: 'start it with withSnapshot() (the PostgreSQL and Redis modules do by default)',
      });
    }
    this.#stopped = undefined;
    const since = sinceNextMillisecond();
    const t0 = performance.now();
    await this.#rt.rebootFrom(snap.layerDir, 0);
    const t1 = performance.now();
    await this.#ready?.(since);
    log('%s reset: reboot %d ms, ready %d ms later', this.name, Math.round(t1 - t0), Math.round(performance.now() - t1));
  }

  /** Stops the container (if running) and deletes everything it had. Idempotent. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await this.#rt.remove();
  }

  /**
   * Whether `start()` handed back a container kept for reuse across runs that was already there (`withReuse()`);
   * false for the start that made it, and for containers without reuse.
   */
  get reused(): boolean { return this.#rt.reuse?.reused ?? false; }

  /**
   * A container kept for reuse across runs (`withReuse()`): lets go of it without removing it (its idle timeout starts
   * once no process holds it). Also what `await using` does to such a container. Other containers: nothing.
   */
  release(): void { this.#rt.reuse?.release(); }

  /** Removes the container; one kept for reuse across runs is only let go of ({@link release}). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#rt.reuse) this.release();
    else await this.remove();
  }

  /**
   * Copies into the container: a Buffer becomes the file `containerPath`; a host path (file or
   * directory) is copied to `containerPath`.
   */
  async copyTo(source: string | Buffer, containerPath: string, opts: { mode?: number; uid?: number; gid?: number } = {}): Promise<void> {
    this.#checkNotRemoved();
    const target = posix.normalize(containerPath);
    if (!target.startsWith('/')) throw invalidArgument('containerPath', containerPath, 'an absolute container path');
    const owner = { uid: opts.uid ?? 0, gid: opts.gid ?? 0 };
    if (Buffer.isBuffer(source)) {
      await this.#rt.copyIn([{ path: target, type: 'file', mode: opts.mode ?? 0o644, ...owner, content: source }]);
      return;
    }
    await this.#rt.copyIn(hostEntries(source, target, owner, opts.mode));
  }

  /**
   * Unpacks a tar stream (or Buffer) into the running container below directory `containerPath` (testcontainers'
   * `copyArchiveToContainer`, `docker cp -`): files, directories, symlinks and hard links, with the archive's modes,
   * owned by root unless `opts.owner` says otherwise: `'archive'` keeps the uid/gid each entry's header names (as
   * Docker's put-archive and {@link Container.withArchive} do), `{ uid, gid }` gives everything to those ids.
   * @throws SlipwayError `ERR_UNSUPPORTED` for a device or FIFO entry; `ERR_COPY_UNSAFE_PATH` for a name with `..`;
   *   `ERR_CONTAINER_NOT_RUNNING` after `remove()`.
   * @example
   * import { createReadStream } from 'node:fs';
   * import { Container } from 'slipway';
   * await using web = await new Container('nginx:1').start();
   * await web.copyArchiveTo(createReadStream('site.tar'), '/usr/share/nginx/html');
   */
  async copyArchiveTo(tar: Readable | Buffer, containerPath = '/', opts: { owner?: 'archive' | { uid: number; gid: number } } = {}): Promise<void> {
    this.#checkNotRemoved();
    const target = posix.normalize(containerPath);
    if (!target.startsWith('/')) throw invalidArgument('containerPath', containerPath, 'an absolute container path');
    let archive: Buffer;
    if (Buffer.isBuffer(tar)) archive = tar;
    else {
      const chunks: Buffer[] = [];
      for await (const c of tar) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
      archive = Buffer.concat(chunks);
    }
    const owner = opts.owner === 'archive' ? undefined : opts.owner ?? { uid: 0, gid: 0 };
    await this.#rt.copyIn(await entriesOfArchive(archive, target, owner));
  }

  /**
   * Copies out of the container (a final symlink is copied as a link). Without `hostPath`, returns a
   * tar stream of the path (like `docker cp` to stdout), read from the container as you read it;
   * with `hostPath`, writes the file or directory there (merging into an existing directory). Host
   * writes never follow a symlink, whoever made it, and keep the container's names as bytes; modes
   * lose setuid/setgid and group/other write.
   * @throws SlipwayError `ERR_COPY_SOURCE_MISSING` when the path does not exist (before any stream
   *   or host file is made); `ERR_COPY_UNSAFE_PATH` for a name the host cannot take safely (a
   *   collision, a name tar cannot carry); `ERR_COPY_HOST` for a host directory in the way or a host
   *   file system error; `ERR_CONTAINER_NOT_RUNNING` after `remove()`.
   * @returns without `hostPath`, a Node `Readable` of the tar archive; with it, nothing once the files are written
   * @example
   * import { createWriteStream } from 'node:fs';
   * import { pipeline } from 'node:stream/promises';
   * import { Container } from 'slipway';
   * await using app = await new Container('my-app:1').start();
   * await app.copyFrom('/var/log/app', './logs'); // into a host directory
   * await pipeline(await app.copyFrom('/var/log/app'), createWriteStream('logs.tar')); // or a tar stream
   */
  copyFrom(containerPath: string): Promise<Readable>;
  copyFrom(containerPath: string, hostPath: string): Promise<void>;
  copyFrom(containerPath: string, hostPath?: string): Promise<Readable | void>;
  async copyFrom(containerPath: string, hostPath?: string): Promise<Readable | void> {
    this.#checkNotRemoved();
    const source = posix.normalize(containerPath);
    if (!source.startsWith('/')) throw invalidArgument('containerPath', containerPath, 'an absolute container path');
    // The first entry is awaited here so a missing path rejects this call, not a later read.
    const it = this.#rt.copyOut(source)[Symbol.asyncIterator]();
    const entries = prepend(await it.next(), it);
    if (hostPath === undefined) return tarOfEntries(entries, source);
    await extractToHost(entries, hostPath, { source });
  }

  #checkNotRemoved(): void {
    if (this.#removed) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed`, { hint: 'start a new container' });
  }
}

async function* mapLines(it: AsyncIterable<{ text: string }>): AsyncGenerator<string> {
  for await (const l of it) yield l.text;
}

async function* prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  try {
    if (first.done) return;
    yield first.value;
    for (let n = await rest.next(); !n.done; n = await rest.next()) yield n.value;
  } finally {
    await rest.return?.();
  }
}

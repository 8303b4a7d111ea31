import { createWriteStream } from 'node:fs';
import { mkdir, symlink, utimes } from 'node:fs/promises';
import { dirname, join, posix, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { SlipwayError, invalidArgument } from '../errors.js';
import { readLogLines } from '../runtime/log-reader.js';
import { hostEntries } from '../runtime/host-entries.js';
import type { CopyEntry, ExecOptions, ExecResult, ExitInfo, RuntimeContainer } from '../runtime/runtime-container.js';
import { parsePortSpec } from './container-options.js';

export type { ExecOptions, ExecResult, ExitInfo };

/** Options for {@link StartedContainer.logs}. */
export interface LogsOptions {
  /** Keep yielding new lines until the container exits. @defaultValue false */
  follow?: boolean;
  /** Only lines written at or after this time. */
  since?: Date;
  /** @defaultValue true */
  stdout?: boolean;
  /** @defaultValue true */
  stderr?: boolean;
  signal?: AbortSignal;
}

/** Log lines as an async iterable, plus `text()` for everything at once. */
export interface LogStream extends AsyncIterable<string> {
  /** The output as written (lines end with `\n` unless the stream ended without one). */
  text(): Promise<string>;
}

/**
 * A running (or exited but not yet removed) container. Stop it with `stop()`, or let `await using`
 * do it; `stop()` and `remove()` are idempotent.
 */
export class StartedContainer implements AsyncDisposable {
  readonly #rt: RuntimeContainer;
  #removed = false;
  #stopped: Promise<ExitInfo> | undefined;

  /** @internal */
  constructor(rt: RuntimeContainer, readonly host: string, private readonly stopTimeout: number) {
    this.#rt = rt;
  }

  /** Container id (64 hex characters). */
  get id(): string { return this.#rt.id; }
  /** Container name (given with `withName`, or generated). */
  get name(): string { return this.#rt.name; }
  /** The address that reaches published ports (testcontainers' `getHost()`). */
  getHost(): string { return this.host; }
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

  /** The container's log lines (stdout and stderr). */
  logs(opts: LogsOptions = {}): LogStream {
    const rt = this.#rt;
    const iterate = () => mapLines(readLogLines(rt.logPath, { ...opts, done: () => rt.hasExited() }));
    return {
      [Symbol.asyncIterator]: iterate,
      /** The output as written: lines end with `\n` unless the stream ended without one. */
      async text() {
        let out = '';
        for await (const l of readLogLines(rt.logPath, { ...opts, done: () => rt.hasExited() })) out += l.unterminated ? l.text : `${l.text}\n`;
        return out;
      },
    };
  }

  /** Resolves when the container's process exits. */
  wait(): Promise<ExitInfo> { return this.#rt.exited(); }

  /**
   * Sends the stop signal (withStopSignal, else the image's StopSignal, else SIGTERM), then SIGKILL after
   * `timeout` ms. Idempotent; returns how the process ended.
   */
  stop(opts: { timeout?: number } = {}): Promise<ExitInfo> {
    if (this.#removed) return this.#stopped ?? this.#rt.exited();
    this.#stopped ??= this.#rt.stop(opts.timeout ?? this.stopTimeout);
    return this.#stopped;
  }

  /** Stops and starts the process again, keeping the container's writable layer and ports. */
  async restart(opts: { timeout?: number } = {}): Promise<void> {
    this.#checkNotRemoved();
    this.#stopped = undefined;
    await this.#rt.restart(opts.timeout ?? this.stopTimeout);
  }

  /** Stops the container (if running) and deletes everything it had. Idempotent. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await this.#rt.remove();
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.remove(); }

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
   * Copies out of the container. Without `hostPath`, returns a tar stream of the path (like `docker cp`
   * to stdout); with `hostPath`, writes the file or directory there.
   */
  async copyFrom(containerPath: string, hostPath?: string): Promise<Readable | void> {
    this.#checkNotRemoved();
    const entries = this.#rt.copyOut(posix.normalize(containerPath));
    if (hostPath === undefined) return tarOf(entries, posix.dirname(posix.normalize(containerPath)));
    await writeHostEntries(entries, posix.normalize(containerPath), hostPath);
  }

  #checkNotRemoved(): void {
    if (this.#removed) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed`, { hint: 'start a new container' });
  }
}

async function* mapLines(it: AsyncIterable<{ text: string }>): AsyncGenerator<string> {
  for await (const l of it) yield l.text;
}

function tarOf(entries: AsyncIterable<CopyEntry>, parent: string): Readable {
  const pack = tar.pack();
  (async () => {
    for await (const e of entries) {
      const name = posix.relative(parent, e.path) || posix.basename(e.path);
      const header = { name, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime ?? new Date() };
      if (e.type === 'directory') pack.entry({ ...header, type: 'directory' });
      else if (e.type === 'symlink') pack.entry({ ...header, type: 'symlink', linkname: e.linkTarget ?? '' });
      else await new Promise<void>((res, rej) => pack.entry({ ...header, type: 'file' }, e.content ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
    }
    pack.finalize();
  })().catch((err) => pack.destroy(err as Error));
  return pack as unknown as Readable;
}

async function writeHostEntries(entries: AsyncIterable<CopyEntry>, root: string, hostPath: string): Promise<void> {
  const dirTimes: [string, Date][] = [];
  for await (const e of entries) {
    const rel = relative(root, e.path);
    if (rel.startsWith('..')) continue;
    const dest = rel ? join(hostPath, rel) : hostPath;
    await mkdir(dirname(dest), { recursive: true });
    if (e.type === 'directory') { await mkdir(dest, { recursive: true, mode: e.mode }); if (e.mtime) dirTimes.push([dest, e.mtime]); }
    else if (e.type === 'symlink') await symlink(e.linkTarget ?? '', dest);
    else {
      await pipeline(Readable.from([e.content ?? Buffer.alloc(0)]), createWriteStream(dest, { mode: e.mode & 0o777 }));
      if (e.mtime) await utimes(dest, e.mtime, e.mtime);
    }
  }
  for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t);
}

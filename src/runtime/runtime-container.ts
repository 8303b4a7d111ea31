import type { LayerDiff } from '../image/layer-diff.js';
import type { Image } from '../image/pull.js';
import type { KeeperFileEntry as CopyEntry, KeeperGetEntry as CopiedEntry } from './keeper/keeper.js';

/**
 * How a container's process ended.
 * @example
 * import { Container } from 'slipway';
 * const c = await new Container('busybox').withCommand(['sleep', '60']).start();
 * const exit = await c.stop(); // { exitCode: null, signal: 'SIGTERM', oomKilled: false } or exitCode 143
 * if (exit.oomKilled) console.warn('raise withMemory()');
 */
export interface ExitInfo {
  /** Exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** Signal name when a signal ended the process. */
  signal: string | null;
  /** True when the kernel's OOM killer ended it (read from the container's cgroup). */
  oomKilled: boolean;
}

/**
 * Options of `StartedContainer.exec`: environment, user, working directory, stdin, an `AbortSignal`, and callbacks that receive output as it comes.
 * @example
 * import { Container } from 'slipway';
 * await using c = await new Container('busybox').withCommand(['sleep', 'infinity']).start();
 * const r = await c.exec(['sh', '-c', 'cat > /tmp/in; id -u'], { user: '1000', workdir: '/tmp', stdin: 'data', env: { A: '1' } });
 */
export interface ExecOptions {
  env?: Record<string, string>;
  user?: string;
  workdir?: string;
  stdin?: Buffer | string;
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/**
 * What `StartedContainer.exec` returns once the command ended: exit code (null when a signal ended it), the signal, and its output.
 * @example
 * import { Container } from 'slipway';
 * await using c = await new Container('busybox').withCommand(['sleep', 'infinity']).start();
 * const { exitCode, stdout, stderr } = await c.exec(['ls', '/nope']);
 * if (exitCode !== 0) console.error(stderr);
 */
export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in the order the keeper read them. */
  output: string;
}

/** A container as the runtime layer runs it; the API layer wraps it in `StartedContainer`. */
export interface RuntimeContainer {
  readonly id: string;
  readonly name: string;
  readonly hostPid: number;
  readonly logPath: string;
  /** The container's hostname (withHostname, else the first 12 characters of its id). */
  readonly hostname: string;
  /** Published ports: key `${containerPort}/${protocol}` → host port. */
  readonly hostPorts: ReadonlyMap<string, number>;
  /** The address published ports are reached on, when the runtime knows one (an engine's host); else this machine's loopback. */
  readonly clientHost?: string | undefined;
  readonly imageHealthcheck: { Test?: string[]; Interval?: number } | undefined;
  /** The image config's labels (Docker shows them under the container's, which win). */
  readonly imageLabels: Readonly<Record<string, string>>;
  /** Resolves once the current process has exited (replaced on restart). */
  exited(): Promise<ExitInfo>;
  hasExited(): boolean;
  listeningTcpPorts(): Promise<Set<number>>;
  /** This container's address on each user network it is attached to (network name → IPv4), in join order. */
  networkAddresses(): ReadonlyMap<string, string>;
  /** Its address behind the outbound helper (slirp4netns/pasta) in the default network mode, if one runs. */
  readonly outboundIp: string | undefined;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  kill(signal: string): Promise<void>;
  stop(timeoutMs: number): Promise<ExitInfo>;
  restart(timeoutMs: number): Promise<void>;
  /**
   * Stops the process, drops its writable layer and boots again over `layerDir` (a snapshot layer, above the image's
   * layers) on the same host ports. The state dir and logs stay.
   */
  rebootFrom(layerDir: string, timeoutMs: number): Promise<void>;
  copyIn(entries: AsyncIterable<CopyEntry> | Iterable<CopyEntry>): Promise<void>;
  /** Pre-order entries of `path` (not following a final symlink), read when iterated. @throws SlipwayError ERR_COPY_SOURCE_MISSING */
  copyOut(path: string): AsyncIterable<CopiedEntry>;
  remove(): Promise<void>;
  /** The image it was started from, as resolved (layers, config, platform). */
  readonly resolvedImage: Image;
  /**
   * Writes the container's changes since it was created (its overlay upper dir) as a layer tar to `dest`, read
   * without following any link. The container may keep running: a file it writes meanwhile may be caught half-written.
   * @throws SlipwayError `ERR_STORE` when an entry cannot be read
   */
  diffUpper(dest: string): Promise<LayerDiff>;
  /**
   * Set where images live in an engine, not in slipway's store: the engine commits the container (`POST /commit`, not
   * paused, as natively) as `name` (`repo` and `tag`, the engine's names), else untagged and then tagged
   * `<defaultRepo>:<first 12 hex digits of its id>`. Resolves with the engine's image id (its config digest) and tag.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` (a change the engine refuses), `ERR_CONTAINER_NOT_FOUND` (removed)
   */
  commitInEngine?(opts: { name?: { repo: string; tag: string }; defaultRepo: string; changes: readonly string[]; author?: string; comment?: string }): Promise<{ id: string; repo: string; tag: string }>;
  /**
   * Set for a container the reuse keeper runs (`withReuse()`): whether it was already running (false for the start
   * that made it), and `release()`, which lets go of it without removing it (its idle timeout starts).
   */
  readonly reuse?: { readonly reused: boolean; release(): void };
}

/** One filesystem entry moved in or out of a container (the keeper's PUT/GET record). */
export type { KeeperFileEntry as CopyEntry } from './keeper/keeper.js';
/** An entry copied out of a container, with its name as the container's bytes. */
export type { KeeperGetEntry as CopiedEntry } from './keeper/keeper.js';

/**
 * A container run by a Docker or Podman engine, behind the same `RuntimeContainer` interface as the keeper's. Its
 * output is followed from the engine (timestamps on, demultiplexed) into a local CRI-format file, so the API's log
 * reader, wait strategies and `logs()` work unchanged on either backend.
 */
import { constants as osConstants } from 'node:os';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { readFile } from 'node:fs/promises';
import { SlipwayError, unsupported } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import { demultiplex, Demuxer } from '../../engine/demux.js';
import { SESSION_LABEL } from '../../engine/watchdog.js';
import { hasStatus, removalInProgress, type EngineClient } from '../../engine/client.js';
import { tarOfEntries } from '../copy-archive.js';
import { idleBounded } from '../copy-idle.js';
import { ExecOutput } from '../exec-output.js';
import { MAX_LINE_CHARS } from '../log-reader.js';
import { StringDecoder } from 'node:string_decoder';
import { readTar, TarReadError, type TarReadEntry } from '../../internal/tar-read.js';
import type { Image } from '../../image/pull.js';
import type { LayerDiff } from '../../image/layer-diff.js';
import type { CopiedEntry, CopyEntry, ExecOptions, ExecResult, ExitInfo, RuntimeContainer } from '../runtime-container.js';
import type { NetworkJoin } from '../launch-plan.js';

const log = logger('engine:container');

/** Content of small files a copy out keeps for hard links to them later in the archive (the keeper's GET window). */
const HELD_LINK_BYTES = 16 << 20;

/** What the engine reports of a container (`GET /containers/{id}/json`), the fields read here. */
export interface EngineInspect {
  Id: string;
  State: { Pid: number; Running: boolean; OOMKilled: boolean; ExitCode: number };
  Config: { Hostname: string };
  NetworkSettings: {
    IPAddress?: string;
    Ports?: Record<string, { HostIp: string; HostPort: string }[] | null>;
    Networks?: Record<string, { IPAddress: string }>;
  };
}

/** The exit as the keeper reports it: a code above 128 from the container's init is death by that signal. */
export function exitInfoOf(code: number, oomKilled: boolean): ExitInfo {
  const byNumber = Object.entries(osConstants.signals as Record<string, number>).find(([, n]) => n === code - 128);
  if (code > 128 && byNumber) return { exitCode: null, signal: byNumber[0], oomKilled };
  return { exitCode: code, signal: null, oomKilled };
}

export interface EngineContainerInit {
  client: EngineClient;
  id: string;
  name: string;
  hostname: string;
  logPath: string;
  imageConfig: { Healthcheck?: { Test?: string[]; Interval?: number }; Labels?: Record<string, string> | null };
  networks: readonly NetworkJoin[];
  /** The engine is on this machine (unix socket): its pids and /proc are ours to read. */
  local: boolean;
  /** Targets of the container's tmpfs mounts (the engine's archive API copies beneath them: refused). */
  tmpfs?: readonly string[];
  /** The address published ports are reached on (`engineClientHost`). */
  host?: string;
  /** Set for a container kept for reuse (`withReuse()`): whether an earlier start made it. */
  reused?: boolean;
  /** Gives back this process's claim on the container's name (`runtime/container-names.ts`); called once, at removal or release. */
  releaseName?: () => void;
}

export class EngineContainer implements RuntimeContainer {
  readonly id: string;
  readonly name: string;
  readonly hostname: string;
  readonly logPath: string;
  readonly clientHost: string | undefined;
  readonly imageHealthcheck: { Test?: string[]; Interval?: number } | undefined;
  readonly imageLabels: Readonly<Record<string, string>>;
  readonly #client: EngineClient;
  readonly #init: EngineContainerInit;
  #inspect: EngineInspect | undefined;
  #hostPorts = new Map<string, number>();
  #exit: Promise<ExitInfo> | undefined;
  #exitInfo: ExitInfo | undefined;
  #logsDone: Promise<void> = Promise.resolve();
  #logsDrained = true;
  #lastLogTime = '';
  #logAbort = new AbortController();
  /** Aborted by remove(): ends every archive GET of the container still open. */
  readonly #copyAbort = new AbortController();
  #log: FileHandle | undefined;
  #removed: Promise<void> | undefined;
  /**
   * A container kept for reuse lives on in the engine after this process, as testcontainers' do (found again by its
   * reuse key label); `release()` has nothing to hand back: there is no reuse keeper counting leases on an engine.
   */
  readonly reuse: { readonly reused: boolean; release(): void } | undefined;

  constructor(init: EngineContainerInit) {
    this.#init = init;
    this.clientHost = init.host;
    this.#client = init.client;
    this.id = init.id;
    this.name = init.name;
    this.hostname = init.hostname;
    this.logPath = init.logPath;
    this.imageHealthcheck = init.imageConfig.Healthcheck;
    this.imageLabels = { ...init.imageConfig.Labels };
    this.reuse = init.reused === undefined ? undefined : { reused: init.reused, release: () => init.releaseName?.() };
  }

  /** Starts the created container (again after a stop) and follows its exit and output. */
  async start(): Promise<void> {
    this.#log ??= await open(this.logPath, 'a', 0o600);
    await this.#client.call('POST', `/containers/${this.id}/start`);
    await this.follow();
  }

  /** Follows the exit and output of the container as it runs now (one this process did not start: a reused one). */
  async follow(): Promise<void> {
    this.#log ??= await open(this.logPath, 'a', 0o600);
    this.#exitInfo = undefined;
    this.#logsDrained = false;
    // A followed stream of a container that exits at once can end before the engine wrote its last lines (Docker 20.10
    // lost a short-lived container's only line this way): once it ends, what was logged after the last line seen is read again.
    // A reused container is not this process's (natively the reuse keeper's): watching it must not keep Node alive,
    // as its native lease does not. An own running container does, as a running child process does (natively too).
    const watch = this.reuse === undefined ? 'held' : 'background';
    this.#logsDone = this.#followLogs(true, watch).then(() => this.#followLogs(false)).catch((e) => log('%s logs: %O', this.name, e)).finally(() => { this.#logsDrained = true; });
    const logsDone = this.#logsDone;
    this.#exit = (async () => {
      const r = await this.#client.call<{ StatusCode: number }>('POST', `/containers/${this.id}/wait`, { query: { condition: 'not-running' }, long: true, watch });
      const ins = await this.#client.call<EngineInspect>('GET', `/containers/${this.id}/json`).catch(() => undefined);
      await logsDone;
      this.#exitInfo = exitInfoOf(r.StatusCode, ins?.State.OOMKilled ?? false);
      return this.#exitInfo;
    })();
    this.#exit.catch(() => {});
    await this.refresh();
  }

  /** Reads ports, pid and addresses again (after a start). */
  async refresh(): Promise<void> {
    this.#inspect = await this.#client.call<EngineInspect>('GET', `/containers/${this.id}/json`);
    const ports = new Map<string, number>();
    for (const [key, bindings] of Object.entries(this.#inspect.NetworkSettings.Ports ?? {})) {
      const b = bindings?.find((x) => !x.HostIp.includes(':')) ?? bindings?.[0];
      if (b) ports.set(key, Number(b.HostPort));
    }
    this.#hostPorts = ports;
  }

  get hostPid(): number { return this.#inspect?.State.Pid ?? 0; }
  get hostPorts(): ReadonlyMap<string, number> { return this.#hostPorts; }
  get outboundIp(): string | undefined { return this.#inspect?.NetworkSettings.IPAddress || undefined; }
  get resolvedImage(): Image {
    throw unsupported('commit()', 'the engine backend keeps images in the engine, not in slipway\'s store', 'use the engine\'s own commit (docker commit), or SLIPWAY_RUNTIME=native');
  }

  networkAddresses(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    const nets = this.#inspect?.NetworkSettings.Networks ?? {};
    for (const { network } of this.#init.networks) {
      const ip = nets[network.name]?.IPAddress;
      if (ip) out.set(network.name, ip);
    }
    return out;
  }

  exited(): Promise<ExitInfo> {
    return this.#exit ?? Promise.reject(new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was never started`));
  }

  /** True once the process ended and its output is all in the log file. */
  hasExited(): boolean { return this.#exitInfo !== undefined && this.#logsDrained; }

  async listeningTcpPorts(): Promise<Set<number>> {
    let text = '';
    if (this.#init.local && this.hostPid > 0) {
      for (const f of ['tcp', 'tcp6']) text += await readFile(`/proc/${this.hostPid}/net/${f}`, 'utf8').catch(() => '');
    }
    if (!text) text = (await this.exec(['cat', '/proc/net/tcp', '/proc/net/tcp6']).catch(() => undefined))?.stdout ?? '';
    const out = new Set<number>();
    for (const line of text.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[1]?.includes(':')) out.add(parseInt(cols[1].split(':')[1]!, 16));
    }
    return out;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const stdin = opts.stdin === undefined ? undefined : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin);
    const created = await this.#client.call<{ Id: string }>('POST', `/containers/${this.id}/exec`, {
      body: {
        Cmd: argv, AttachStdout: true, AttachStderr: true, AttachStdin: stdin !== undefined, Tty: false,
        Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`), User: opts.user ?? '', WorkingDir: opts.workdir ?? '',
      },
    }).catch((err: unknown) => { throw this.#notRunning(err); });
    const { socket, head } = await this.#client.hijack(`/exec/${created.Id}/start`, { Detach: false, Tty: false });
    // Past the output bound the attach is cut as an abort cuts it (the engine has no call to kill an exec).
    const output = new ExecOutput(this.name, argv);
    const signal = output.signal(opts.signal);
    const onAbort = () => socket.destroy(output.exceeded && !opts.signal?.aborted ? output.error() : new SlipwayError('ERR_ABORTED', `exec in ${this.name} was aborted`));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (stdin !== undefined) socket.end(stdin);
      const d = new Demuxer();
      const take = (chunk: Buffer) => {
        for (const f of d.push(chunk)) {
          if (f.stream === 'stdout') { output.push('stdout', f.data); opts.onStdout?.(f.data); } else if (f.stream === 'stderr') { output.push('stderr', f.data); opts.onStderr?.(f.data); }
        }
      };
      if (head.length) take(head);
      socket.resume();
      for await (const chunk of socket) take(chunk as Buffer);
    } finally {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
    }
    const info = await this.#client.call<{ ExitCode: number | null; Running: boolean }>('GET', `/exec/${created.Id}/json`);
    const result = output.result(exitInfoOf(info.ExitCode ?? -1, false));
    // A command the runtime could not execute: the engine writes its runtime's error on the stream and reports 126;
    // natively the keeper's exec fails (ERR_RUNTIME with the errno), so a wait probe ends at once instead of timing out.
    const failed = info.ExitCode === 126 ? /^OCI runtime exec failed: (.*)/.exec(result.stdout.trim()) : null;
    if (failed) {
      const errno = /permission denied/.test(failed[1]!) ? 'EACCES' : /no such file|not found/.test(failed[1]!) ? 'ENOENT' : 'EINVAL';
      throw new SlipwayError('ERR_RUNTIME', `exec ${argv[0]} in container ${this.name}: ${errno} (${failed[1]})`, {
        hint: errno === 'ENOENT' ? 'the command was not found in the image: check the path and PATH' : 'the command could not be executed in the container',
      });
    }
    return result;
  }

  async kill(signal: string): Promise<void> {
    await this.#client.call('POST', `/containers/${this.id}/kill`, { query: { signal } }).catch((err: unknown) => {
      if (!hasStatus(err, 409)) throw this.#notRunning(err);
    });
  }

  async stop(timeoutMs: number): Promise<ExitInfo> {
    if (this.#exitInfo) return this.#exitInfo;
    await this.#client.call('POST', `/containers/${this.id}/stop`, { query: { t: Math.ceil(timeoutMs / 1000) }, long: true }).catch((err: unknown) => {
      if (!hasStatus(err, 304)) throw this.#notRunning(err);
    });
    return this.exited();
  }

  async restart(timeoutMs: number): Promise<void> {
    await this.stop(timeoutMs);
    await this.exited();
    await this.start();
  }

  async copyIn(entries: AsyncIterable<CopyEntry> | Iterable<CopyEntry>): Promise<void> {
    const refuseTmpfs = (p: string): void => this.#refuseTmpfs('copying into the container', p);
    async function* rooted(): AsyncGenerator<CopiedEntry> {
      for await (const e of entries) {
        refuseTmpfs(posix.normalize(e.path));
        yield { ...e, relPath: Buffer.from(posix.normalize(e.path).replace(/^\/+/, '') || '.') };
      }
    }
    const body = tarOfEntries(rooted(), '/');
    // A source that cannot be read (ERR_INVALID_ARGUMENT) or a name tar cannot carry fails the request body: that error
    // is the caller's, not the engine's (the client reports a failed body as an engine that did not answer).
    let bodyError: unknown;
    body.once('error', (e) => { bodyError = e; });
    await this.#client.stream('PUT', `/containers/${this.id}/archive`, { query: { path: '/' }, rawBody: body, headers: { 'content-type': 'application/x-tar' } })
      .then(({ body: b }) => b.resume())
      .catch((err: unknown) => { throw SlipwayError.is(bodyError) ? bodyError : this.#notRunning(err); });
  }

  copyOut(path: string): AsyncIterable<CopiedEntry> {
    // Bounded by its reader's pace, as natively: an unread archive GET otherwise lasts until the engine gives up on it.
    return idleBounded(this.#copyOut(path), path, this.name);
  }

  async *#copyOut(path: string): AsyncGenerator<CopiedEntry> {
    this.#refuseTmpfs('copyFrom()', path);
    const parent = posix.dirname(path);
    // Hard links in the archive (a file's later names; Docker writes the content once, under the first name): natively
    // each name is a file of its own, so here too, in the archive's order. A link to a small file seen earlier takes
    // its content from memory (at most HELD_LINK_BYTES held); else the archive is closed (Docker locks the container
    // until then), the linked file read by a GET of its own, and the archive read again past the link.
    const held = new Map<string, Buffer>();
    let heldBytes = 0;
    let done = 0;
    for (;;) {
      let index = 0;
      let pending: { base: Omit<CopiedEntry, 'type'>; target: string } | undefined;
      for await (const e of this.#archive(path, done === 0)) {
        if (index++ < done) continue;
        done = index;
        if (e.type !== 'link') {
          for await (const out of this.#entryOf(e, parent, undefined)) {
            if (out.content && out.content.length + heldBytes <= HELD_LINK_BYTES) {
              held.set(e.name.toString('latin1'), out.content);
              heldBytes += out.content.length;
            }
            yield out;
          }
          continue;
        }
        const base = this.#baseOf(e, parent);
        const content = held.get(e.linkname.toString('latin1'));
        if (content) {
          yield { ...base, type: 'file', content, size: content.length };
          continue;
        }
        const target = e.linkname.toString('utf8');
        if (!Buffer.from(target, 'utf8').equals(e.linkname)) {
          throw new SlipwayError('ERR_COPY_UNSAFE_PATH', `${base.path} in container ${this.name} is a hard link to a name that is not UTF-8, which the engine's archive API cannot be asked for`, {
            hint: 'copy the file it links to, or give it a UTF-8 name',
          });
        }
        pending = { base, target: posix.join(parent, target) };
        break;
      }
      if (!pending) return;
      let found = false;
      for await (const e of this.#archive(pending.target, false)) {
        // Only the entry itself: the container may have put a directory there since.
        if (e.type === 'file') {
          found = true;
          yield* this.#entryOf(e, parent, pending.base);
        }
        break;
      }
      if (!found) throw new SlipwayError('ERR_COPY_SOURCE_MISSING', `${pending.base.path} (a hard link to ${pending.target}) in container ${this.name} was removed or replaced while it was copied`, { hint: 'copy it again once the container stopped changing it' });
    }
  }

  /** The entries of one archive GET of `path`; the GET ends (Docker's lock on the container with it) when the caller stops. */
  async *#archive(path: string, named: boolean): AsyncGenerator<TarReadEntry> {
    // Each copy's GET ends when the container is removed: Docker holds a DELETE (force) until every archive
    // response of the container is written, so an unread copyFrom() stream made remove() wait for the body timeout.
    const abort = new AbortController();
    const onRemove = (): void => abort.abort();
    this.#copyAbort.signal.addEventListener('abort', onRemove, { once: true });
    let body;
    try {
      try {
        ({ body } = await this.#client.stream('GET', `/containers/${this.id}/archive`, { query: { path }, long: true, signal: AbortSignal.any([abort.signal, this.#copyAbort.signal]) }));
      } catch (err) {
        if (hasStatus(err, 404)) throw new SlipwayError('ERR_COPY_SOURCE_MISSING', `${path} does not exist in container ${this.name}`, { cause: err, hint: 'check the path (exec ls in the container)' });
        throw this.#removedError(err);
      }
      let first = named;
      try {
        // Names stay bytes (readTar): the archive carries the container's names raw, as the keeper hands them over.
        for await (const e of readTar(body)) {
          // The path asked for is a FIFO, socket or device: natively ERR_UNSUPPORTED (inside a directory, left out).
          if (first && e.type === 'other') {
            throw new SlipwayError('ERR_UNSUPPORTED', `cannot copy ${path} out of the container: it is not a regular file, directory or symlink (a FIFO, socket or device)`, {
              hint: 'copy its contents with exec([\'cat\', path]) if it is a FIFO or device that yields data; inside a copied directory such entries are left out',
            });
          }
          first = false;
          yield e;
        }
      } catch (err) {
        throw SlipwayError.is(err, 'ERR_UNSUPPORTED') ? err : this.#removedError(err);
      }
    } finally {
      this.#copyAbort.signal.removeEventListener('abort', onRemove);
      abort.abort();
      body?.destroy();
    }
  }

  #baseOf(e: TarReadEntry, parent: string): Omit<CopiedEntry, 'type'> {
    let end = e.name.length;
    while (end > 1 && e.name[end - 1] === 0x2f) end--;
    const name = e.name.subarray(0, end);
    return { path: posix.join(parent, name.toString('utf8')), relPath: name, mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtime: e.mtime };
  }

  /** One archive entry as the keeper's GET would hand it over (`as`: under a hard link's name, with its file's content). */
  async *#entryOf(e: TarReadEntry, parent: string, as: Omit<CopiedEntry, 'type'> | undefined): AsyncGenerator<CopiedEntry> {
    const base = as ? { ...as, mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtime: e.mtime } : this.#baseOf(e, parent);
    if (e.type === 'directory') yield { ...base, type: 'directory' };
    else if (e.type === 'symlink') yield { ...base, type: 'symlink', linkTarget: e.linkname.toString('utf8'), linkBytes: e.linkname };
    else if (e.type === 'file' && e.size <= 1 << 20) {
      const content = Buffer.concat(await collect(e.content));
      yield { ...base, type: 'file', content, size: content.length };
    } else if (e.type === 'file') yield { ...base, type: 'file', size: e.size, contentStream: e.content };
  }

  /**
   * Docker's archive API reads and writes the container's own file system, beneath a tmpfs mounted over it: a file
   * copied in is hidden by the tmpfs, and a copy out reads what the tmpfs hides (`docker cp` does the same).
   */
  #refuseTmpfs(method: string, path: string): void {
    const under = (this.#init.tmpfs ?? []).find((t) => path === t || path.startsWith(t === '/' ? t : `${t}/`));
    if (under === undefined) return;
    throw unsupported(`${method} of ${path}`, `it is on the tmpfs mounted at ${under}, and the engine's archive API copies to and from the container's file system beneath it (a copied file would be hidden, or the tmpfs's files not seen)`,
      'copy through exec (e.g. exec([\'sh\', \'-c\', \'cat > path\'], { stdin })), use a volume instead of withTmpfs() for the path, or SLIPWAY_RUNTIME=native');
  }

  /** A copy cut by remove() is the native "removed" error; an archive the engine cut short is a copy error. */
  #removedError(err: unknown): unknown {
    if (this.#removed) return new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed`, { cause: err, hint: 'copy before remove()' });
    if (err instanceof TarReadError) return new SlipwayError('ERR_RUNTIME', `the engine's archive of container ${this.name} is malformed: ${err.message}`, { cause: err });
    return this.#notRunning(err);
  }

  async rebootFrom(_layerDir: string, _timeoutMs: number): Promise<void> {
    throw unsupported('reset()', 'snapshots are layers in slipway\'s store, which an engine runtime does not mount', 'use SLIPWAY_RUNTIME=native');
  }

  async diffUpper(_dest: string): Promise<LayerDiff> {
    throw unsupported('commit()', 'the engine backend keeps the container\'s files in the engine', 'use docker commit, or SLIPWAY_RUNTIME=native');
  }

  async commitInEngine(opts: { name?: { repo: string; tag: string }; defaultRepo: string; changes: readonly string[]; author?: string; comment?: string }): Promise<{ id: string; repo: string; tag: string }> {
    // Docker records the container's labels in the image, ours too; an image cannot drop a label, so slipway's are
    // blanked: a later container of the image must not look like this session's (the watchdog's sweep) or a reused one.
    // Docker joins repeated `changes` with newlines before parsing them: one value with the newlines is the same.
    const changes = [...opts.changes, `LABEL ${[SESSION_LABEL, 'org.slipway.pid', 'org.slipway.reuse-key'].map((l) => `${l}=""`).join(' ')}`];
    const { Id: id } = await this.#client.call<{ Id: string }>('POST', '/commit', {
      long: true,
      query: {
        container: this.id, pause: false, repo: opts.name?.repo, tag: opts.name?.tag, author: opts.author, comment: opts.comment,
        changes: changes.join('\n'),
      },
    }).catch((err: unknown) => {
      if (hasStatus(err, 404)) throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `container ${this.name} is gone from the engine: there is nothing to commit`, { cause: err });
      if (hasStatus(err, 400)) throw new SlipwayError('ERR_INVALID_ARGUMENT', `the engine refused to commit ${this.name}: ${(err as Error).message}`, { cause: err, hint: 'check the changes (Dockerfile instructions such as "ENV A=b")' });
      throw err;
    });
    if (opts.name) return { id, ...opts.name };
    const tag = id.replace(/^sha256:/, '').slice(0, 12);
    await this.#client.call('POST', `/images/${encodeURIComponent(id)}/tag`, { query: { repo: opts.defaultRepo, tag } });
    return { id, repo: opts.defaultRepo, tag };
  }

  /** Force-removes the container (and its anonymous volumes); idempotent. */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      this.#copyAbort.abort();
      // Another process removing it too (`slipway rm -f` while this one tears down): Docker says 409 "removal of
      // container … is already in progress"; gone either way, as natively.
      await this.#client.call('DELETE', `/containers/${this.id}`, { query: { force: 1, v: 1 } }).catch((err: unknown) => {
        if (!hasStatus(err, 404) && !removalInProgress(err)) throw err;
      });
      for (const { network } of this.#init.networks) await network.detach(this.id).catch(() => {});
      this.#logAbort.abort();
      await this.#logsDone;
      if (!this.#exitInfo) this.#exitInfo = { exitCode: null, signal: 'SIGKILL', oomKilled: false };
      await this.#log?.close().catch(() => {});
      await rm(this.logPath, { force: true });
    })().finally(() => this.#init.releaseName?.());
    return this.#removed;
  }

  /** Follows the engine's log stream from the last line seen, appending CRI lines to the log file. */
  async #followLogs(follow: boolean, watch?: 'held' | 'background'): Promise<void> {
    const since = this.#lastLogTime ? String(Date.parse(this.#lastLogTime) / 1000) : undefined;
    const { body } = await this.#client.stream('GET', `/containers/${this.id}/logs`, {
      query: { follow: follow ? 1 : 0, stdout: 1, stderr: 1, timestamps: 1, since }, long: true, watch, signal: this.#logAbort.signal,
    });
    // Per stream: the text of the line not yet ended, the time of its first message, whether a piece of it is
    // already written (cont), whether it is being skipped (seen before a re-follow), and a UTF-8 decoder.
    const at = () => ({ partial: '', ts: '', cont: false, skip: false, utf8: new StringDecoder('utf8') });
    const state: Record<'stdout' | 'stderr', ReturnType<typeof at>> = { stdout: at(), stderr: at() };
    const write = async (stream: 'stdout' | 'stderr', text: string, done: boolean): Promise<void> => {
      const st = state[stream];
      if (!st.cont) {
        st.skip = !!since && !!this.#lastLogTime && st.ts <= this.#lastLogTime;
        if (!st.skip) this.#lastLogTime = st.ts;
      }
      st.cont = !done;
      if (!st.skip) await this.#log!.write(`${st.ts} ${stream} ${done ? 'F' : 'P'} ${text}\n`);
    };
    try {
      for await (const f of demultiplex(body)) {
        if (f.stream !== 'stdout' && f.stream !== 'stderr') continue;
        const st = state[f.stream];
        // A frame is one message, "<RFC 3339 time> <text>". The engine cuts a line longer than 16 KiB into several
        // messages, each with its own time (and a UTF-8 character possibly cut between them), only the last with
        // the newline: the times come off every message, and a line keeps its first message's.
        const sp = f.data.indexOf(0x20);
        const ts = sp > 0 ? f.data.subarray(0, sp).toString('latin1') : new Date().toISOString();
        if (!st.partial && !st.cont) st.ts = ts;
        const lines = (st.partial + st.utf8.write(sp > 0 ? f.data.subarray(sp + 1) : f.data)).split('\n');
        st.partial = lines.pop() ?? '';
        for (const l of lines) {
          await write(f.stream, l, true);
          st.ts = ts;
        }
        // Output without a newline is written as partial records, as the keeper writes them: held here whole it
        // grew without bound (a container printing `tr '\0' x < /dev/zero`).
        if (st.partial.length >= MAX_LINE_CHARS) {
          await write(f.stream, st.partial, false);
          st.partial = '';
        }
      }
    } catch (err) {
      if (!this.#logAbort.signal.aborted) throw err;
    }
    for (const s of ['stdout', 'stderr'] as const) {
      const rest = state[s].partial + state[s].utf8.end();
      if (rest) await write(s, rest, false);
    }
  }

  #notRunning(err: unknown): unknown {
    // Natively a removed container's handle answers "not running"; the engine only knows the id is gone.
    if (hasStatus(err, 404) && this.#removed) return new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed`, { cause: err, hint: 'start a new container' });
    if (hasStatus(err, 404)) return new SlipwayError('ERR_CONTAINER_NOT_FOUND', `container ${this.name} is gone from the engine`, { cause: err });
    if (hasStatus(err, 409)) return new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} is not running`, { cause: err, hint: 'start it again, or start a new container' });
    return err;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

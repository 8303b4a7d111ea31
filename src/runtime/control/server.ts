/**
 * A process's control socket: `<keeper dir>/control.sock`, through which other `slipway` processes of the same
 * user list, exec into, stop and remove the containers this process runs. Only the owner can reach it: it lives
 * in the keeper's 0700 dir inside the user's 0700 state root, and is itself 0600.
 */
import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import type { ContainerHandle } from '../container-handle.js';
import type { Keeper } from '../keeper/keeper.js';
import { KeeperError } from '../keeper/keeper-error.js';
import type { ContainerDescription, ControlRequest, WireError } from './description.js';
import { onJsonLines, sendJson } from './lines.js';

const log = logger('control');

/** Exec output queued for a control client that does not read, before it is disconnected. */
export const MAX_QUEUED = 16 << 20;

/** The socket's name in a keeper's dir. */
export const CONTROL_SOCKET = 'control.sock';

const servers = new WeakMap<Keeper, ControlServer>();

/** Lists `handle` on its keeper's control socket (started on first use) until the returned function is called. */
export function registerContainer(keeper: Keeper, handle: ContainerHandle): () => void {
  let server = servers.get(keeper);
  if (!server) {
    server = new ControlServer(join(keeper.stateDir, CONTROL_SOCKET));
    servers.set(keeper, server);
  }
  return server.add(handle);
}

class ControlServer {
  readonly #handles = new Map<string, ContainerHandle>();
  readonly #server: Server;

  constructor(path: string) {
    this.#server = createServer((s) => this.#serve(s));
    this.#server.on('error', (e) => log('control socket %s: %s', path, e.message));
    // Never what keeps this process alive.
    this.#server.unref();
    this.#server.listen(path, () => {
      try {
        chmodSync(path, 0o600);
      } catch (e) {
        log('chmod %s: %s', path, (e as Error).message);
      }
      log('listening on %s', path);
    });
  }

  add(handle: ContainerHandle): () => void {
    this.#handles.set(handle.id, handle);
    return () => { this.#handles.delete(handle.id); };
  }

  #serve(socket: Socket): void {
    socket.unref();
    socket.on('error', (e) => log('control connection: %s', e.message));
    let exec: ExecInput | undefined;
    onJsonLines(socket, (m) => {
      const req = m as ControlRequest;
      if (req.op === 'stdin' || req.op === 'eof') {
        exec?.push(req.op === 'stdin' ? Buffer.from(req.data, 'base64') : undefined);
        return;
      }
      if (exec) return; // one request per connection
      const reply = (msg: unknown): Promise<void> => sendJson(socket, msg);
      const fail = (e: unknown): void => { void reply({ type: 'error', error: wireError(e) }).then(() => socket.end()); };
      // A client that goes away (aborted, or its output bound reached) no longer wants the command: kill it, or
      // `cat /dev/zero` would run on in the container.
      const gone = new AbortController();
      // An exec's output cannot be paused (the keeper relays it as the process writes): a client that stops reading
      // (a paused terminal, a hung pipe) must not make this process, the test run, buffer the container's output
      // without bound. Past MAX_QUEUED the command is stopped and the client told why (its last 5 s to read it).
      const output = (stream: 'stdout' | 'stderr', b: Buffer): void => {
        if (socket.destroyed || socket.writableEnded) return;
        if (socket.writableLength > MAX_QUEUED) {
          log('control client reads too slowly (%d bytes queued): exec stopped, disconnecting', socket.writableLength);
          gone.abort();
          const e = new SlipwayError('ERR_EXEC_OUTPUT_TOO_LARGE', `the exec's output came faster than it was read (more than ${MAX_QUEUED} bytes waiting in the container's owner, pid ${process.pid}); it was stopped`, {
            hint: 'read the output as it comes, redirect a large output to a file in the container and copy it out with copyFrom(), or cut it in the command (`… | head -c 1M`)',
          });
          socket.end(`${JSON.stringify({ type: 'error', error: wireError(e) })}\n`);
          setTimeout(() => socket.destroy(), 5000).unref();
          return;
        }
        socket.write(`${JSON.stringify({ type: 'output', stream, data: b.toString('base64') })}\n`);
      };
      try {
        switch (req.op) {
          case 'list':
            void reply({ type: 'list', containers: [...this.#handles.values()].map(describe) }).then(() => socket.end());
            return;
          case 'exec': {
            const h = this.#get(req.id);
            exec = new ExecInput(socket);
            socket.on('close', () => { exec!.push(undefined); gone.abort(); });
            h.execStream(req.argv, {
              env: req.env, user: req.user, workdir: req.workdir, stdin: req.stdin ? exec : undefined, signal: gone.signal,
              onStdout: (b) => { output('stdout', b); },
              onStderr: (b) => { output('stderr', b); },
            }).then((r) => reply({ type: 'exit', exitCode: r.exitCode, signal: r.signal }).then(() => socket.end()), fail);
            return;
          }
          case 'wait': {
            const h = this.#get(req.id);
            // Ref'd while someone follows it? No: a follower must never keep this process (and its containers) alive.
            h.exited().then((e) => reply({ type: 'exit', ...e }), () => reply({ type: 'gone' })).then(() => socket.end(), () => {});
            return;
          }
          case 'stop': {
            const h = this.#get(req.id);
            h.stop(req.timeoutMs).then((e) => reply({ type: 'exit', ...e }).then(() => socket.end()), fail);
            return;
          }
          case 'restart': {
            const h = this.#get(req.id);
            h.restart(req.timeoutMs).then(() => reply({ type: 'ok' }).then(() => socket.end()), fail);
            return;
          }
          case 'ports': {
            const h = this.#get(req.id);
            h.listeningTcpPorts().then((p) => reply({ type: 'ports', tcp: [...p] }).then(() => socket.end()), fail);
            return;
          }
          case 'remove': {
            const h = this.#get(req.id);
            if (!req.force && !h.hasExited()) {
              throw new SlipwayError('ERR_CONTAINER_RUNNING', `container ${h.name} is running`, { hint: 'stop it first, or remove it anyway with `slipway rm -f`' });
            }
            h.remove().then(() => reply({ type: 'ok' }).then(() => socket.end()), fail);
            return;
          }
          default:
            throw new SlipwayError('ERR_INVALID_ARGUMENT', `unknown control request ${JSON.stringify((req as { op?: unknown }).op)}`, { hint: 'use the same slipway version on both sides' });
        }
      } catch (e) {
        fail(e);
      }
    });
  }

  #get(id: string): ContainerHandle {
    const h = this.#handles.get(id);
    if (!h) throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `no container ${id} in process ${process.pid}`, { hint: 'it was removed meanwhile; see `slipway ps`' });
    return h;
  }
}

let lifetime: ContainerDescription['lifetime'] = 'process';

/** Marks this process as the user's reuse keeper: its containers are listed as kept for reuse across runs. */
export function markReuseKeeper(): void {
  lifetime = 'reuse';
}

function describe(h: ContainerHandle): ContainerDescription {
  return { ...h.describe(), lifetime, owner: { pid: process.pid, program: lifetime === 'reuse' ? 'slipway reuse keeper' : basename(process.argv[1] ?? process.argv0) } };
}

function wireError(e: unknown): WireError {
  if (KeeperError.isKind(e, 'exec')) {
    return { code: e.code, message: e.shortMessage, hint: e.hint, commandStatus: KeeperError.isKind(e, 'exec', 'ENOENT') ? 127 : 126 };
  }
  if (SlipwayError.is(e)) return { code: e.code, message: e.shortMessage ?? e.message, hint: e.hint };
  return { code: 'ERR_RUNTIME', message: (e as Error)?.message ?? String(e) };
}

/** An exec's stdin as it arrives over the socket; the socket pauses while much is queued. */
class ExecInput implements AsyncIterable<Uint8Array> {
  readonly #queue: (Buffer | undefined)[] = [];
  #queued = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(private readonly socket: Socket) {}

  /** A chunk, or undefined for EOF. */
  push(chunk: Buffer | undefined): void {
    if (this.#ended) return;
    if (chunk === undefined) this.#ended = true;
    this.#queue.push(chunk);
    this.#queued += chunk?.length ?? 0;
    if (this.#queued > 4 << 20) this.socket.pause();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      while (this.#queue.length === 0) await new Promise<void>((resolve) => { this.#wake = resolve; });
      this.#wake = undefined;
      const chunk = this.#queue.shift();
      if (chunk === undefined) return;
      this.#queued -= chunk.length;
      if (this.#queued <= 1 << 20) this.socket.resume();
      yield chunk;
    }
  }
}

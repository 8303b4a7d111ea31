/**
 * The other side of {@link ./server.ts}: finds the containers of this user's live slipway processes through their
 * control sockets in the state root, and asks their owners to exec, stop or remove them. Another user's
 * containers are out of reach: their state root is not this one, and its dirs are 0700.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { SlipwayError, type SlipwayErrorCode } from '../../errors.js';
import { stateRoot } from '../keeper/state-root.js';
import type { ContainerDescription, ControlReply, ControlRequest, WireError } from './description.js';
import { onJsonLines, sendJson } from './lines.js';
import { CONTROL_SOCKET } from './server.js';

/** A container and the socket of the process that runs it. */
export interface LocatedContainer {
  description: ContainerDescription;
  /** The owner's control socket. */
  socket: string;
}

/** What {@link listContainers} found. */
export interface ContainerListing {
  containers: LocatedContainer[];
  /** Live processes that did not answer in time (busy or stopped in a debugger): their containers are not listed. */
  unanswered: { socket: string; reason: string }[];
}

/** Sockets of this user's processes that run containers (keeper dirs that hold one, owned by us). */
function controlSockets(env: NodeJS.ProcessEnv): string[] {
  return socketsNamed(CONTROL_SOCKET, env);
}

/**
 * The sockets called `file` in the keeper dirs of this user's live processes (owned by us; a dead process's dir
 * goes with its keeper). Other layers put their own per-process sockets there (the `slipway compose` owner's).
 */
export function socketsNamed(file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const root = stateRoot(env);
  const uid = process.getuid!();
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out; // no state root yet: no process has run a container
  }
  for (const name of names) {
    if (!/^keeper-\d+$/.test(name)) continue;
    const path = join(root, name, file);
    try {
      const st = lstatSync(path);
      if (st.isSocket() && st.uid === uid) out.push(path);
    } catch {
      // no socket: that process runs no container (or is gone)
    }
  }
  return out;
}

/**
 * Lists the containers of every live slipway process of this user (each asked through its control socket).
 * Containers kept for reuse across runs will join this listing from their own source when they exist.
 */
export async function listContainers(opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ContainerListing> {
  const listing: ContainerListing = { containers: [], unanswered: [] };
  await Promise.all(controlSockets(opts.env ?? process.env).map(async (socket) => {
    try {
      await request(socket, { op: 'list' }, (r) => {
        if (r.type === 'list') for (const d of r.containers) listing.containers.push({ description: d, socket });
      }, opts.timeoutMs ?? 3000);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Refused or vanished: that process is gone (its keeper sweeps or is sweeping its dir). Reset or a broken pipe
      // before any reply: it closed its control socket while exiting, and its containers go with it.
      if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'EPIPE') return;
      listing.unanswered.push({ socket, reason: (e as Error).message });
    }
  }));
  listing.containers.sort((a, b) => a.description.created.localeCompare(b.description.created) || a.description.name.localeCompare(b.description.name));
  return listing;
}

/**
 * The container named `ref`, or whose id is or starts with `ref`, among this user's.
 * @throws SlipwayError ERR_CONTAINER_NOT_FOUND (none, or a prefix of several ids)
 */
export async function findContainer(ref: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<LocatedContainer> {
  const { containers, unanswered } = await listContainers(opts);
  const exact = containers.filter((c) => c.description.name === ref || c.description.id === ref);
  const matches = exact.length ? exact : ref.length > 0 && /^[0-9a-f]+$/.test(ref) ? containers.filter((c) => c.description.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `"${ref}" matches ${matches.length} containers (${matches.map((c) => c.description.name).join(', ')})`, { hint: 'give more of the id, or the name' });
  }
  const busy = unanswered.length ? ` (${unanswered.length} slipway process(es) did not answer)` : '';
  throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `no container named or with id "${ref}"${busy}`, { hint: 'see `slipway ps` for your running containers' });
}

/** Runs `argv` in the container through its owner; output goes to the callbacks, `stdin` (if any) streams in. */
export async function execInContainer(
  target: LocatedContainer, argv: readonly string[],
  opts: {
    env?: Record<string, string>; user?: string; workdir?: string; stdin?: AsyncIterable<Uint8Array>; onStdout?(b: Buffer): void; onStderr?(b: Buffer): void;
    /** Cuts the connection, with the signal's reason as the error; the owner then kills the command. */
    signal?: AbortSignal;
  },
): Promise<{ exitCode: number | null; signal: string | null; error?: SlipwayError }> {
  opts.signal?.throwIfAborted();
  let exit: { exitCode: number | null; signal: string | null } | undefined;
  let notRun: { status: number; error: SlipwayError } | undefined;
  await request(target.socket, { op: 'exec', id: target.description.id, argv: [...argv], env: opts.env, user: opts.user, workdir: opts.workdir, stdin: !!opts.stdin }, (r) => {
    if (r.type === 'output') (r.stream === 'stderr' ? opts.onStderr : opts.onStdout)?.(Buffer.from(r.data, 'base64'));
    else if (r.type === 'exit') exit = { exitCode: r.exitCode, signal: r.signal };
  }, undefined, (opts.stdin || opts.signal) && (async (s) => {
    const signal = opts.signal;
    if (signal) {
      const cut = () => s.destroy(signal.reason instanceof Error ? signal.reason : new SlipwayError('ERR_ABORTED', 'exec aborted'));
      if (signal.aborted) cut();
      signal.addEventListener('abort', cut, { once: true });
      s.once('close', () => signal.removeEventListener('abort', cut));
    }
    if (!opts.stdin) return;
    for await (const chunk of opts.stdin) await sendJson(s, { op: 'stdin', data: Buffer.from(chunk).toString('base64') } satisfies ControlRequest);
    await sendJson(s, { op: 'eof' } satisfies ControlRequest);
  }), (w, err) => { if (w.commandStatus) notRun = { status: w.commandStatus, error: err }; }).catch((e: unknown) => {
    if (!notRun) throw e;
  });
  // The command could not be run (not found, not executable): Docker's 127/126, with the reason.
  if (notRun) return { exitCode: notRun.status, signal: null, error: notRun.error };
  if (!exit) throw lostOwner(target);
  return exit;
}

/** Stops the container (its stop signal, SIGKILL after `timeoutMs`) and resolves with how it ended. */
export async function stopContainer(target: LocatedContainer, timeoutMs: number): Promise<{ exitCode: number | null; signal: string | null }> {
  let exit: { exitCode: number | null; signal: string | null } | undefined;
  await request(target.socket, { op: 'stop', id: target.description.id, timeoutMs }, (r) => { if (r.type === 'exit') exit = r; });
  if (!exit) throw lostOwner(target);
  return exit;
}

/** Removes the container (killing it first with `force`). @throws SlipwayError ERR_CONTAINER_RUNNING without force */
export async function removeContainer(target: LocatedContainer, force: boolean): Promise<void> {
  let ok = false;
  await request(target.socket, { op: 'remove', id: target.description.id, force }, (r) => { ok ||= r.type === 'ok'; });
  if (!ok) throw lostOwner(target);
}

/** Stops the container's process and boots it again on the same ports (its writable layer and logs kept). */
export async function restartContainer(target: LocatedContainer, timeoutMs: number): Promise<void> {
  let ok = false;
  await request(target.socket, { op: 'restart', id: target.description.id, timeoutMs }, (r) => { ok ||= r.type === 'ok'; });
  if (!ok) throw lostOwner(target);
}

/** The TCP ports the container's processes listen on (read from its own network namespace by its owner). */
export async function listeningPorts(target: LocatedContainer): Promise<Set<number>> {
  let ports: number[] | undefined;
  await request(target.socket, { op: 'ports', id: target.description.id }, (r) => { if (r.type === 'ports') ports = r.tcp; });
  if (!ports) throw lostOwner(target);
  return new Set(ports);
}

/**
 * How the container's current process ended, once it has; undefined when the container was removed or its owner went
 * away first. The connection never keeps this process alive.
 */
export async function exitOf(target: LocatedContainer): Promise<{ exitCode: number | null; signal: string | null; oomKilled: boolean } | undefined> {
  let exit: { exitCode: number | null; signal: string | null; oomKilled: boolean } | undefined;
  await request(target.socket, { op: 'wait', id: target.description.id }, (r) => {
    if (r.type === 'exit') exit = { exitCode: r.exitCode, signal: r.signal, oomKilled: r.oomKilled ?? false };
  }, undefined, (s) => { s.unref(); return Promise.resolve(); }).catch(() => undefined);
  return exit;
}

/** Resolves once the container's process has exited, it was removed, or its owner is gone. */
export async function waitForExit(target: LocatedContainer): Promise<void> {
  await request(target.socket, { op: 'wait', id: target.description.id }, () => {}).catch(() => undefined);
}

function lostOwner(target: LocatedContainer): SlipwayError {
  return new SlipwayError('ERR_CONTAINER_NOT_FOUND', `the process that ran ${target.description.name} went away`, { hint: 'its containers went with it; see `slipway ps`' });
}

/**
 * One request: connects, sends it, hands each reply to `onReply` until the owner closes. An `error` reply rejects
 * with the owner's SlipwayError. `timeoutMs` bounds the whole exchange (for listings).
 */
function request(
  path: string, req: ControlRequest, onReply: (r: ControlReply) => void, timeoutMs?: number, afterSend?: (s: Socket) => Promise<void>,
  onError?: (w: WireError, e: SlipwayError) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = connect(path);
    let failure: Error | undefined;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => s.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    s.on('connect', () => {
      void sendJson(s, req).then(() => afterSend?.(s)).catch((e: Error) => s.destroy(e));
    });
    onJsonLines(s, (m) => {
      const r = m as ControlReply;
      if (r.type === 'error') {
        const e = new SlipwayError(r.error.code as SlipwayErrorCode, r.error.message, { hint: r.error.hint });
        onError?.(r.error, e);
        failure ??= e;
      }
      else onReply(r);
    });
    s.on('error', (e) => { failure ??= e; });
    s.on('close', () => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else resolve();
    });
  });
}

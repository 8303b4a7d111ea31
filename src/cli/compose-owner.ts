/**
 * The process that owns a `slipway compose` project (the `up` in the foreground, or the detached one `up -d`
 * starts) answers on `compose-<hash of the project name>.sock` in its keeper dir: `info` (who it is) and `down`
 * (stop and remove everything, reply, exit). The socket lives and dies with that dir (0700, this user's), so
 * finding a project is a look into the live processes' dirs, and a dead owner leaves nothing behind to confuse the
 * next `up`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, realpathSync, writeSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SlipwayError, type SlipwayErrorCode } from '../errors.js';
import { moduleUrl } from '../internal/module-url.js';
import { onJsonLines, processStateDir, sendJson, socketsNamed } from '../runtime/index.js';
import { write, type CliIO } from './io.js';

/** Set in the detached owner's environment by `up -d`: it reports on fd 3 once the project is up (or failed). */
export const OWNER_ENV = 'SLIPWAY_COMPOSE_OWNER';

/** What `down` asks of the owner. */
export interface DownRequest { removeVolumes: boolean; timeoutMs?: number }
interface OwnerInfo { project: string; pid: number; detached: boolean }
type Request = { op: 'info' } | ({ op: 'down' } & DownRequest);
type Reply = { type: 'info'; info: OwnerInfo } | { type: 'down' } | { type: 'error'; error: { code: string; message: string } };

/** Fixed length whatever the name (socket paths are limited to 107 bytes). */
function socketFile(project: string): string {
  return `compose-${createHash('sha256').update(project).digest('hex').slice(0, 16)}.sock`;
}

/** Listens for `compose down` on the project's socket; `onDown` resolves once everything is removed. */
export async function serveProject(project: string, self: { pid: number; detached: boolean }, onDown: (req: DownRequest) => Promise<void>): Promise<Server> {
  const path = join(await processStateDir(), socketFile(project));
  const server = createServer((s) => {
    s.on('error', () => {});
    onJsonLines(s, (m) => {
      const req = m as Request;
      const reply = (r: Reply): void => { void sendJson(s, r).then(() => s.end()); };
      if (req.op === 'info') reply({ type: 'info', info: { project, ...self } });
      else if (req.op === 'down') {
        onDown({ removeVolumes: !!req.removeVolumes, timeoutMs: req.timeoutMs }).then(() => reply({ type: 'down' }), (e: unknown) => {
          reply({ type: 'error', error: { code: SlipwayError.is(e) ? e.code : 'ERR_RUNTIME', message: (e as Error).message } });
        });
      } else reply({ type: 'error', error: { code: 'ERR_INVALID_ARGUMENT', message: `unknown request ${JSON.stringify((req as { op?: unknown }).op)}` } });
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    // 0600 before anyone can connect: the dir is already 0700, this is the belt to its braces.
    const old = process.umask(0o177);
    server.listen(path, () => { process.umask(old); res(); });
  });
  return server;
}

function ask(socket: string, req: Request, timeoutMs?: number): Promise<Reply> {
  return new Promise((res, rej) => {
    const s = connect(socket);
    let got: Reply | undefined;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => s.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    s.on('connect', () => { void sendJson(s, req); });
    onJsonLines(s, (m) => { got = m as Reply; });
    s.on('error', (e) => { clearTimeout(timer); rej(e); });
    s.on('close', () => {
      clearTimeout(timer);
      if (got) res(got);
      else rej(new SlipwayError('ERR_RUNTIME', 'the compose owner closed the connection without an answer', { hint: 'see `slipway ps` for what is left' }));
    });
  });
}

/** The live process that owns `project`, if any. */
export async function findOwner(project: string, env: NodeJS.ProcessEnv): Promise<(OwnerInfo & { socket: string }) | undefined> {
  for (const socket of socketsNamed(socketFile(project), env)) {
    try {
      const r = await ask(socket, { op: 'info' }, 3000);
      if (r.type === 'info' && r.info.project === project) return { ...r.info, socket };
    } catch {
      // refused: that process is on its way out
    }
  }
  return undefined;
}

/** Asks the owner to take the project down and waits until it has. */
export async function askOwner(socket: string, req: { op: 'down' } & DownRequest): Promise<void> {
  const r = await ask(socket, req);
  if (r.type === 'error') throw new SlipwayError(r.error.code as SlipwayErrorCode, r.error.message);
}

/**
 * The command that runs this CLI again: the entry script itself (`node dist/esm/cli.js`, the `slipway` bin link), or
 * a loader that took the entry as its argument and `--` before ours (vite-node, as the tests run the TypeScript).
 */
function selfCommand(): string[] {
  const here = fileURLToPath(moduleUrl);
  const entry = fileURLToPath(new URL(`../cli${extname(here)}`, moduleUrl));
  const script = process.argv[1] ? resolve(process.argv[1]) : entry;
  const real = (p: string): string => { try { return realpathSync(p); } catch { return p; } };
  return real(script) === real(entry) ? [...process.execArgv, script] : [...process.execArgv, script, entry, '--'];
}

type Ready = { type: 'up'; containers: { key: string; name: string; ports: string[] }[] } | { type: 'error'; error: { code: string; message: string } };

/** In the detached owner: tells the `up -d` that started it how `up()` went (fd 3), once. */
export function reportReady(msg: Ready): void {
  try {
    writeSync(3, `${JSON.stringify(msg)}\n`);
    closeSync(3);
  } catch {
    // the starter is gone (killed): nobody to tell
  }
}

/**
 * `up -d`: starts `slipway <args>` detached (its own session, no terminal, output discarded) as the project's
 * owner and returns once it reports the project up (0) or failed (its error, 125).
 */
export async function detach(args: string[], io: CliIO, project: string): Promise<number> {
  const child = spawn(process.execPath, [...selfCommand(), ...args], {
    detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: { ...io.env, [OWNER_ENV]: '1' },
  });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (s: string) => { text += s; });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const spawned = new Promise<void>((res, rej) => { child.once('spawn', res); child.once('error', rej); });
  await spawned;
  await Promise.race([new Promise((res) => pipe.once('end', res)), exited]);
  const line = text.split('\n')[0] ?? '';
  let msg: Ready | undefined;
  try {
    msg = JSON.parse(line) as Ready;
  } catch {
    msg = undefined;
  }
  child.unref();
  (pipe as unknown as { destroy?: () => void }).destroy?.();
  if (!msg) {
    const code = await Promise.race([exited, new Promise<null>((res) => setTimeout(() => res(null), 1000))]);
    throw new SlipwayError('ERR_RUNTIME', `the detached owner of project ${project} ended before it was up${code !== null ? ` (exit ${code})` : ''}`, {
      hint: 'run `slipway compose up` without -d to see its output',
    });
  }
  if (msg.type === 'error') throw new SlipwayError(msg.error.code as SlipwayErrorCode, msg.error.message);
  for (const c of msg.containers) await write(io.stderr, `slipway: ${c.key} started (${c.name})${c.ports.map((x) => `, ${x}`).join('')}\n`);
  await write(io.stderr, `slipway: project ${project} is up, owned by process ${child.pid}; \`slipway compose -p ${project} down\` removes it\n`);
  return 0;
}

/**
 * The test process's side of reuse across runs: finds the user's reuse keeper (starting it, detached, when none
 * answers), asks it to start or hand back the container for a plan, and drives that container through the keeper's
 * control socket as a {@link RuntimeContainer}. The request's connection stays open (never keeping this process alive)
 * as the lease: the container is in use until it closes.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SlipwayError, type SlipwayErrorCode } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import { moduleUrl } from '../../internal/module-url.js';
import { ExecOutput } from '../exec-output.js';
import type { LayerDiff } from '../../image/layer-diff.js';
import type { Image } from '../../image/pull.js';
import {
  execInContainer, exitOf, findContainer, listeningPorts, removeContainer, restartContainer, stopContainer, type LocatedContainer,
} from '../control/client.js';
import type { WireError } from '../control/description.js';
import { onJsonLines, sendJson } from '../control/lines.js';
import type { LaunchPlan } from '../launch-plan.js';
import type { CopiedEntry, CopyEntry, ExecOptions, ExecResult, ExitInfo, RuntimeContainer } from '../runtime-container.js';
import { packageRoot } from '../keeper/helper-path.js';
import { RUN_PID_ENV } from '../keeper/run-owner.js';
import { stateRoot } from '../keeper/state-root.js';
import {
  REUSE_LOG, REUSE_SETTINGS_ENV, REUSE_SOCKET, reuseDir, reuseSettingsFingerprint, type ReuseDeclined, type ReuseReply, type ReuseRequest,
} from './reuse-keeper.js';
import { toWirePlan } from './reuse-plan.js';
import { claimReusedName } from '../container-names.js';
import { configFiles } from '../../config/index.js';

const log = logger('reuse');

/** How long a freshly spawned reuse keeper may take to answer (from TypeScript sources it compiles itself first). */
const SPAWN_WAIT_MS = 60_000;

/**
 * The container for `plan` from the user's reuse keeper: the running one with the same configuration if there is one
 * (restarted if it had stopped), else a new one it starts. Not waited for: the caller runs its wait strategy.
 * @throws SlipwayError `ERR_UNSUPPORTED` (user networks, volumes), `ERR_RUNTIME` (no reuse keeper could be
 *   started), and whatever the start itself throws (pull errors, `ERR_CONTAINER_START`…).
 */
export async function reuseContainer(
  plan: LaunchPlan & { labels?: Readonly<Record<string, string>>; stopTimeout?: number }, opts: { idleTimeoutMs: number; signal?: AbortSignal },
): Promise<ReusedContainer | ReuseDeclined> {
  const settings = reuseSettingsFingerprint();
  const request: ReuseRequest = { op: 'reuse', plan: toWirePlan(plan), idleTimeoutMs: opts.idleTimeoutMs, settings };
  const releaseName = plan.name === undefined ? undefined : claimReusedName(plan.name);
  try {
    // A keeper that was exiting as we connected closes without an answer: ask again (a new one starts).
    for (let attempt = 1; ; attempt++) {
      opts.signal?.throwIfAborted();
      const socket = await connectKeeper(settings, opts.signal);
      const reply = await ask(socket, request, opts.signal);
      if (reply?.type === 'declined') {
        socket.destroy();
        releaseName?.();
        return reply;
      }
      if (reply) return new ReusedContainer(reply, socket, releaseName);
      if (attempt >= 3) throw new SlipwayError('ERR_RUNTIME', 'the reuse keeper closed the connection without an answer, three times', { hint: `see ${join(reuseDir(), REUSE_LOG)}` });
    }
  } catch (e) {
    releaseName?.();
    throw e;
  }
}

function ask(socket: Socket, request: ReuseRequest, signal?: AbortSignal): Promise<ReuseReply | ReuseDeclined | undefined> {
  return new Promise<ReuseReply | ReuseDeclined | undefined>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => { socket.destroy(); finish(() => reject(signal!.reason)); };
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    onJsonLines(socket, (m) => {
      const r = m as ReuseReply | ReuseDeclined | { type: 'error'; error: WireError };
      if (r.type === 'error') finish(() => reject(new SlipwayError(r.error.code as SlipwayErrorCode, r.error.message, { hint: r.error.hint })));
      else if (r.type === 'reuse' || r.type === 'declined') finish(() => resolve(r));
    });
    socket.on('error', (e) => log('reuse connection: %s', e.message));
    socket.on('close', () => finish(() => resolve(undefined)));
    void sendJson(socket, request);
  });
}

/** A connection to the user's reuse keeper, started (detached) when none answers. */
async function connectKeeper(settings: string, signal?: AbortSignal): Promise<Socket> {
  const dir = reuseDir();
  const path = join(dir, REUSE_SOCKET);
  const first = await tryConnect(path);
  if (first) return first;
  const child = spawnKeeper(dir, settings);
  const t0 = Date.now();
  let exited: number | null = null;
  child.once('exit', (code) => { exited = code ?? 1; });
  for (;;) {
    signal?.throwIfAborted();
    const s = await tryConnect(path);
    if (s) return s;
    // A keeper that lost the lock to another exits 0 and that other one answers soon; one that failed says why.
    if ((exited !== null && exited !== 0) || Date.now() - t0 > SPAWN_WAIT_MS) {
      throw new SlipwayError('ERR_RUNTIME', `the reuse keeper did not start${exited !== null ? ` (exit code ${exited})` : ` within ${SPAWN_WAIT_MS} ms`}`, {
        hint: `its log: ${join(dir, REUSE_LOG)}${tail(join(dir, REUSE_LOG))}`,
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => { s.removeAllListeners('error'); resolve(s); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new SlipwayError('ERR_RUNTIME', `cannot reach the reuse keeper at ${path}: ${e.message}`, { cause: e, hint: 'see `slipway ps`; remove the socket if no reuse keeper runs' }));
    });
  });
}

/**
 * The reuse keeper's argv: the compiled entry beside this module (the built package), else its TypeScript source
 * through vite-node (a source checkout, as the tests run it).
 */
export function reuseKeeperArgv(): string[] {
  const here = dirname(fileURLToPath(moduleUrl));
  const js = join(here, '..', 'runtime', 'reuse', 'reuse-keeper-main.js');
  if (existsSync(js)) return [process.execPath, js];
  const ts = join(here, '..', 'runtime', 'reuse', 'reuse-keeper-main.ts');
  try {
    const viteNode = join(dirname(createRequire(moduleUrl).resolve('vite-node/package.json')), 'vite-node.mjs');
    if (existsSync(ts)) return [process.execPath, viteNode, ts];
  } catch {
    // no vite-node: only the built package can start the reuse keeper
  }
  throw new SlipwayError('ERR_RUNTIME', `cannot find the reuse keeper's entry point (${js})`, { hint: 'build slipway (npm run build) or drop withReuse()' });
}

function spawnKeeper(dir: string, settings: string): ReturnType<typeof spawn> {
  const [bin, ...args] = reuseKeeperArgv();
  // Not the test run's: it must outlive it (no run-owner watch, no runner worker markers, no test loader hooks).
  // It runs from the package's dir: the project config file this process found is named, so both read the same.
  const project = configFiles().project;
  const env: NodeJS.ProcessEnv = {
    ...process.env, SLIPWAY_STATE_DIR: stateRoot(), [REUSE_SETTINGS_ENV]: settings,
    ...(project && existsSync(project) ? { SLIPWAY_CONFIG: project } : {}),
  };
  for (const k of [RUN_PID_ENV, 'NODE_OPTIONS', 'NODE_CHANNEL_FD', 'JEST_WORKER_ID', 'TINYPOOL_WORKER_ID']) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith('VITEST')) delete env[k];
  const logFd = openSync(join(dir, REUSE_LOG), 'a', 0o600);
  try {
    log('starting the reuse keeper: %s', [bin, ...args].join(' '));
    // Its own session (detached): no terminal signal or hang-up of ours reaches it. cwd: the package (vite-node's root).
    const child = spawn(bin!, args, { detached: true, stdio: ['ignore', 'ignore', logFd], env, cwd: packageRoot() });
    child.unref();
    return child;
  } finally {
    closeSync(logFd);
  }
}

function tail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-5);
    return lines.length ? `; last lines:\n${lines.join('\n')}` : '';
  } catch {
    return '';
  }
}

function unsupported(what: string): SlipwayError {
  return new SlipwayError('ERR_UNSUPPORTED', `${what} is not available on a container reused across runs (it runs in the reuse keeper)`, {
    hint: 'use exec(), or drop withReuse() for this container',
  });
}

/** A container the reuse keeper runs, driven through its control socket. */
export class ReusedContainer implements RuntimeContainer {
  readonly type = 'reused' as const;
  readonly id: string;
  readonly name: string;
  readonly logPath: string;
  readonly hostname: string;
  readonly hostPorts: ReadonlyMap<string, number>;
  readonly imageHealthcheck: RuntimeContainer['imageHealthcheck'];
  readonly imageLabels: Readonly<Record<string, string>>;
  readonly outboundIp: string | undefined;
  readonly reuse: { readonly reused: boolean; release(): void };
  #target: LocatedContainer;
  #lease: Socket | undefined;
  #exit: Promise<ExitInfo> | undefined;
  #exited: boolean;
  #releaseName: (() => void) | undefined;

  constructor(reply: ReuseReply, lease: Socket, releaseName?: () => void) {
    const d = reply.container;
    this.id = d.id;
    this.name = d.name;
    this.logPath = d.logPath;
    this.hostname = d.hostname;
    this.hostPorts = new Map(d.ports.map((p) => [`${p.container}/${p.protocol}`, p.hostPort]));
    this.imageHealthcheck = reply.imageHealthcheck;
    this.imageLabels = reply.imageLabels;
    this.outboundIp = reply.outboundIp;
    this.reuse = { reused: reply.reused, release: () => this.release() };
    this.#target = { description: d, socket: reply.socket };
    this.#exited = d.state === 'exited';
    this.#lease = lease;
    this.#releaseName = releaseName;
    // The lease must never keep this process alive; its end (the process exiting) lets the idle timeout run.
    lease.unref();
  }

  get hostPid(): number { return this.#target.description.pid; }

  /** Lets go of the container: the reuse keeper removes it once no process used it for its idle timeout. */
  release(): void {
    this.#lease?.end();
    this.#lease = undefined;
    this.#releaseName?.();
  }

  exited(): Promise<ExitInfo> {
    this.#exit ??= exitOf(this.#target).then((e) => {
      this.#exited = true;
      return e ?? { exitCode: null, signal: 'SIGKILL', oomKilled: false };
    });
    return this.#exit;
  }

  hasExited(): boolean {
    void this.exited();
    return this.#exited;
  }

  listeningTcpPorts(): Promise<Set<number>> { return listeningPorts(this.#target); }
  networkAddresses(): ReadonlyMap<string, string> { return new Map(); }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    opts.signal?.throwIfAborted();
    const output = new ExecOutput(this.name, argv);
    const stdin = opts.stdin === undefined ? undefined : (async function* () { yield Buffer.from(opts.stdin!); })();
    const r = await execInContainer(this.#target, argv, {
      env: opts.env, user: opts.user, workdir: opts.workdir, stdin, signal: output.signal(opts.signal),
      onStdout: (b) => { output.push('stdout', b); opts.onStdout?.(b); },
      onStderr: (b) => { output.push('stderr', b); opts.onStderr?.(b); },
    }).catch((e: unknown) => { throw output.exceeded && !opts.signal?.aborted ? output.error(e) : e; });
    if (r.error) throw r.error;
    return output.result(r);
  }

  kill(): Promise<void> { return Promise.reject(unsupported('kill()')); }

  async stop(timeoutMs: number): Promise<ExitInfo> {
    const e = await stopContainer(this.#target, timeoutMs);
    this.#exited = true;
    const info = { exitCode: e.exitCode, signal: e.signal, oomKilled: (e as { oomKilled?: boolean }).oomKilled ?? false };
    this.#exit = Promise.resolve(info);
    return info;
  }

  async restart(timeoutMs: number): Promise<void> {
    await restartContainer(this.#target, timeoutMs);
    this.#exit = undefined;
    this.#exited = false;
    this.#target = await findContainer(this.id).catch(() => this.#target);
  }

  rebootFrom(): Promise<void> { return Promise.reject(unsupported('reset() (snapshots)')); }
  copyIn(_entries: AsyncIterable<CopyEntry> | Iterable<CopyEntry>): Promise<void> { return Promise.reject(unsupported('copying files in')); }
  copyOut(_path: string): AsyncIterable<CopiedEntry> { throw unsupported('copying files out'); }
  get resolvedImage(): Image { throw unsupported('the resolved image'); }
  diffUpper(_dest: string): Promise<LayerDiff> { return Promise.reject(unsupported('commit()')); }

  /** Removes the container now (for every process that reuses it) and lets go of it. */
  async remove(): Promise<void> {
    try {
      await removeContainer(this.#target, true);
    } catch (e) {
      // Already gone (removed by another process, `slipway rm`, or its idle timeout): nothing left to do.
      const code = (e as NodeJS.ErrnoException).code;
      if (!SlipwayError.is(e, 'ERR_CONTAINER_NOT_FOUND') && code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
    } finally {
      this.#exited = true;
      this.release();
    }
  }
}

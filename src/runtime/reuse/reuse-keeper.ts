/**
 * The reuse keeper: one detached Node process per user (its own session, stdio closed but for a log file) that owns
 * the containers started with `withReuse()`, so they outlive the test processes that asked for them. It runs them
 * with its own native keeper (so `slipway ps/exec/logs/rm` reach them through its control socket like any other), and
 * answers one more request on `<state root>/reuse/reuse.sock`: start-or-get by reuse key (see `reuse-plan.ts`).
 *
 * Only one runs per state root: it holds an flock on `reuse/lock` for its whole life, and only the lock holder binds
 * the socket and writes `reuse/registry.json` (what it holds, for people and `slipway info`-like tools). A client's
 * request connection is its lease: while one is open the container is in use; once the last closes (the test process
 * ended, even by SIGKILL, or let go) the container is removed after its idle timeout. With no container left and no
 * request in flight the reuse keeper exits, and its native keeper with it: nothing outlives the last idle timeout.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../../config/index.js';
import { SlipwayError } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import { ensurePrivateDir } from '../../internal/private-dir.js';
import { tryFlock } from '../../image/syscalls.js';
import type { ContainerHandle } from '../container-handle.js';
import { CONTROL_SOCKET, markReuseKeeper } from '../control/server.js';
import type { ContainerDescription, WireError } from '../control/description.js';
import { onJsonLines, sendJson } from '../control/lines.js';
import { stateRoot } from '../keeper/state-root.js';
import { launchContainer, resolveImage } from '../launch.js';
import { fromWirePlan, reuseIdentity, type WirePlan } from './reuse-plan.js';

const log = logger('reuse');

/** Names inside `<state root>/reuse/`. */
export const REUSE_DIR = 'reuse';
export const REUSE_SOCKET = 'reuse.sock';
export const REUSE_LOCK = 'lock';
export const REUSE_LOG = 'keeper.log';
export const REUSE_REGISTRY = 'registry.json';

/** How often leases and idle timeouts are looked at. */
const SWEEP_MS = 200;
/** With nothing to hold, the keeper waits this long for a request before it exits. */
const EXIT_GRACE_MS = 2_000;
/** A reuse keeper that lost the lock retries this long (the previous one may be on its way out). */
const LOCK_WAIT_MS = 10_000;

/** A start-or-get request (one per connection; the connection then stays open as the lease). */
export interface ReuseRequest {
  op: 'reuse';
  plan: WirePlan;
  /** ms the container is kept once no lease holds it (the requester's `reuseIdleTimeout`; the latest request wins). */
  idleTimeoutMs: number;
  /** The requester's settings fingerprint ({@link reuseSettingsFingerprint}); a keeper started with others declines. */
  settings?: string;
}

/** The env variable that gives a spawned reuse keeper its spawner's settings fingerprint. */
export const REUSE_SETTINGS_ENV = 'SLIPWAY_REUSE_SETTINGS';

/**
 * A digest of the settings a container's start depends on (registry mirrors, Hub prefix, store dir, credentials…):
 * a reuse keeper pulls and starts with its spawner's settings, so a request made under other settings is declined
 * (the requester then starts its container itself) rather than served with stale ones.
 */
export function reuseSettingsFingerprint(env: NodeJS.ProcessEnv = process.env): string {
  // The engine's reaper settings do not change what a native reuse keeper starts.
  const { reuse: _reuse, reuseIdleTimeout: _idle, reaper: _r, reaperImage: _ri, reaperReconnectTimeout: _rt, dockerSocketOverride: _ds, ...values } = loadConfig({ env }).values;
  const sorted = Object.fromEntries(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

/** What a client needs to drive the container through its owner's control socket and to wait for it. */
/** The answer of a reuse keeper started under other settings than the request's: start without it. */
export interface ReuseDeclined {
  type: 'declined';
  reason: string;
}

export interface ReuseReply {
  type: 'reuse';
  /** false for the request that started it. */
  reused: boolean;
  container: ContainerDescription;
  /** The reuse keeper's control socket. */
  socket: string;
  imageHealthcheck?: { Test?: string[]; Interval?: number };
  imageLabels: Record<string, string>;
  outboundIp?: string;
}

interface Entry {
  key: string;
  canonical: string;
  handle: ContainerHandle;
  controlSocket: string;
  stopTimeout: number;
  leases: Set<Socket>;
  idleTimeoutMs: number;
  idleSince: number;
  /** A restart of an exited container in progress (concurrent requests share it). */
  restarting?: Promise<void>;
}

/** `<state root>/reuse`, created 0700 (refused when it is a link or another user's). */
export function reuseDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = join(stateRoot(env), REUSE_DIR);
  ensurePrivateDir(dir, 'ERR_RUNTIME', `remove ${dir} if it is not yours`);
  return dir;
}

/** Runs the reuse keeper until it has nothing left to hold. Exits the process. */
export async function runReuseKeeper(env: NodeJS.ProcessEnv = process.env): Promise<never> {
  markReuseKeeper();
  process.on('SIGHUP', () => {});
  const dir = reuseDir(env);
  const lockFd = openSync(join(dir, REUSE_LOCK), 'a', 0o600);
  const t0 = Date.now();
  while (!tryFlock(lockFd)) {
    if (Date.now() - t0 > LOCK_WAIT_MS) {
      log('another reuse keeper holds %s: exiting', dir);
      process.exit(0);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const keeper = new ReuseKeeper(dir, env[REUSE_SETTINGS_ENV] || undefined);
  await keeper.listen();
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => { void keeper.shutdown(`${s}`); });
  return keeper.run().finally(() => closeSync(lockFd)) as Promise<never>;
}

class ReuseKeeper {
  readonly #entries = new Map<string, Entry>();
  readonly #starting = new Map<string, Promise<Entry>>();
  readonly #server = createServer((s) => this.#serve(s));
  #inFlight = 0;
  /** Removals of idle containers in progress (the keeper does not exit under them). */
  #removals = 0;
  #quietSince = Date.now();
  #done!: () => void;
  #shuttingDown = false;

  constructor(private readonly dir: string, readonly settings: string | undefined) {}

  get #socketPath(): string { return join(this.dir, REUSE_SOCKET); }

  async listen(): Promise<void> {
    // Only the lock holder gets here: a socket file left by a killed predecessor is stale.
    rmSync(this.#socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#socketPath, () => { this.#server.off('error', reject); resolve(); });
    });
    chmodSync(this.#socketPath, 0o600);
    this.#server.on('error', (e) => log('reuse socket: %s', e.message));
    this.#writeRegistry();
    log('reuse keeper %d listening on %s', process.pid, this.#socketPath);
  }

  run(): Promise<void> {
    const timer = setInterval(() => this.#sweep(), SWEEP_MS);
    return new Promise<void>((resolve) => { this.#done = resolve; }).finally(() => clearInterval(timer));
  }

  #serve(socket: Socket): void {
    socket.on('error', (e) => log('reuse connection: %s', e.message));
    socket.on('close', () => this.#release(socket));
    let asked = false;
    onJsonLines(socket, (m) => {
      const req = m as ReuseRequest;
      if (asked) return;
      asked = true;
      if (req?.op !== 'reuse' || typeof req.plan !== 'object' || !(req.idleTimeoutMs > 0)) {
        void sendJson(socket, { type: 'error', error: { code: 'ERR_INVALID_ARGUMENT', message: 'bad reuse request', hint: 'use the same slipway version on both sides' } }).then(() => socket.end());
        return;
      }
      if (req.settings !== undefined && this.settings !== undefined && req.settings !== this.settings) {
        void sendJson(socket, { type: 'declined', reason: 'it runs with other slipway settings (registry, prefix, store…) than this process' } satisfies ReuseDeclined).then(() => socket.end());
        return;
      }
      this.#inFlight++;
      this.#reuse(req, socket).then(
        (reply) => sendJson(socket, reply),
        (e: unknown) => sendJson(socket, { type: 'error', error: wireError(e) }).then(() => socket.end()),
      ).finally(() => { this.#inFlight--; });
    });
  }

  async #reuse(req: ReuseRequest, socket: Socket): Promise<ReuseReply> {
    const plan = fromWirePlan(req.plan);
    const { image } = await resolveImage(plan);
    const { key, canonical } = await reuseIdentity(req.plan, image);
    let reused = true;
    let entry = this.#entries.get(key);
    if (entry && entry.handle.describe().state === 'removing') {
      // Removed meanwhile (`slipway rm`, a client's remove()): start a new one.
      this.#entries.delete(key);
      entry = undefined;
    }
    if (entry && entry.canonical !== canonical) {
      throw new SlipwayError('ERR_RUNTIME', `reuse key ${key.slice(0, 12)} names another configuration (a SHA-256 collision)`, { hint: 'drop withReuse() for this container' });
    }
    if (!entry) {
      let starting = this.#starting.get(key);
      if (!starting) {
        reused = false;
        starting = (async () => {
          const handle = await launchContainer(plan, undefined, image);
          const e: Entry = {
            key, canonical, handle, controlSocket: join(handle.describe().stateDir, '..', CONTROL_SOCKET), stopTimeout: req.plan.stopTimeout,
            leases: new Set(), idleTimeoutMs: req.idleTimeoutMs, idleSince: Date.now(),
          };
          this.#entries.set(key, e);
          log('started %s for key %s', handle.name, key.slice(0, 12));
          return e;
        })();
        this.#starting.set(key, starting);
        void starting.catch(() => {}).finally(() => this.#starting.delete(key));
      }
      entry = await starting;
    }
    entry.idleTimeoutMs = req.idleTimeoutMs;
    entry.leases.add(socket);
    if (socket.destroyed) this.#release(socket);
    if (entry.handle.hasExited()) {
      entry.restarting ??= entry.handle.restart(entry.stopTimeout).finally(() => { entry.restarting = undefined; });
      await entry.restarting;
    }
    this.#writeRegistry();
    const h = entry.handle;
    return {
      type: 'reuse', reused, container: { ...h.describe(), lifetime: 'reuse' }, socket: entry.controlSocket,
      imageHealthcheck: h.imageHealthcheck, imageLabels: { ...h.imageLabels }, outboundIp: h.outboundIp,
    };
  }

  #release(socket: Socket): void {
    for (const e of this.#entries.values()) {
      if (e.leases.delete(socket) && e.leases.size === 0) {
        e.idleSince = Date.now();
        log('%s idle (removed in %d ms unless asked for again)', e.handle.name, e.idleTimeoutMs);
        this.#writeRegistry();
      }
    }
  }

  #sweep(): void {
    const now = Date.now();
    let changed = false;
    for (const [key, e] of this.#entries) {
      const removed = e.handle.describe().state === 'removing';
      const idle = e.leases.size === 0 && !e.restarting && now - e.idleSince >= e.idleTimeoutMs;
      if (!removed && !idle) continue;
      this.#entries.delete(key);
      changed = true;
      if (idle) {
        log('removing %s: idle for %d ms', e.handle.name, now - e.idleSince);
        this.#removals++;
        void e.handle.remove().catch((err: unknown) => log('remove %s: %O', e.handle.name, err)).finally(() => { this.#removals--; });
      }
    }
    if (changed) this.#writeRegistry();
    if (this.#entries.size > 0 || this.#starting.size > 0 || this.#inFlight > 0 || this.#removals > 0) this.#quietSince = now;
    else if (now - this.#quietSince >= EXIT_GRACE_MS) void this.shutdown('nothing left to keep');
  }

  /** Removes what it holds and exits; the lock goes with the process (a new reuse keeper may start at once). */
  async shutdown(why: string): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    log('reuse keeper %d exits: %s', process.pid, why);
    this.#server.close();
    rmSync(this.#socketPath, { force: true });
    const handles = [...this.#entries.values()].map((e) => e.handle);
    this.#entries.clear();
    await Promise.allSettled(handles.map((h) => h.remove()));
    rmSync(join(this.dir, REUSE_REGISTRY), { force: true });
    this.#done();
    // The native keeper sees stdin EOF and removes its dir; nothing else is left.
    process.exit(0);
  }

  /** `registry.json`: what this keeper holds (no env values, no file contents), replaced atomically. */
  #writeRegistry(): void {
    const now = Date.now();
    const record = {
      keeperPid: process.pid,
      updated: new Date(now).toISOString(),
      containers: [...this.#entries.values()].map((e) => {
        const d = e.handle.describe();
        return {
          key: e.key, id: d.id, name: d.name, image: d.image, state: d.state, ports: d.ports, leases: e.leases.size,
          idleTimeoutMs: e.idleTimeoutMs, removeAt: e.leases.size === 0 ? new Date(e.idleSince + e.idleTimeoutMs).toISOString() : undefined,
        };
      }),
    };
    const tmp = join(this.dir, `.${REUSE_REGISTRY}.${process.pid}`);
    try {
      writeFileSync(tmp, `${JSON.stringify(record, null, 1)}\n`, { mode: 0o600 });
      renameSync(tmp, join(this.dir, REUSE_REGISTRY));
    } catch (e) {
      log('registry: %s', (e as Error).message);
    }
  }
}

function wireError(e: unknown): WireError {
  if (SlipwayError.is(e)) return { code: e.code, message: e.shortMessage ?? e.message, hint: e.hint };
  return { code: 'ERR_RUNTIME', message: (e as Error)?.message ?? String(e) };
}

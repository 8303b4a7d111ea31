/**
 * One engine session per process: the client, the session id every resource is labelled with, what removes them
 * when this process ends (the local watchdog, or for a remote engine a reaper container on the engine's host), the
 * address its published ports are reached on, and a private temp dir (the containers' local log files).
 */
import { randomBytes } from 'node:crypto';
import { type Stats, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../internal/debug.js';
import { EngineClient, type EngineInfo } from '../../engine/client.js';
import { engineClientHost, isLoopbackHost, isRemoteEngine, type EngineEndpoint } from '../../engine/endpoint.js';
import { reaperSocketPath, startReaper, type ReaperConnection } from '../../engine/reaper.js';
import { configValue, type ReaperChoice } from '../../config/index.js';
import { SESSION_LABEL, startWatchdog } from '../../engine/watchdog.js';
import { runOwners } from '../keeper/run-owner.js';
import { ensureImage } from './engine-image.js';

const log = logger('engine:session');

/** What every engine resource of this process shares. */
export interface EngineSession {
  client: EngineClient;
  info: EngineInfo;
  /** 16 hex digits, also the value of the session label. */
  id: string;
  /** Labels put on every container, network and volume. */
  labels: Record<string, string>;
  /** This process's private dir (0700) for the containers' log files. */
  dir: string;
  /** The watchdog's pid (none when a reaper container holds the session). */
  watchdogPid: number | undefined;
  /** The reaper container's id, when one holds the session (remote engines). */
  reaperId: string | undefined;
  /** The connection to the reaper (reconnected after a drop), when one holds the session. */
  reaper: ReaperConnection | undefined;
  /** The address this process reaches the containers' published ports on. */
  host: string;
  /** The address ports are published on, on the engine's host: `0.0.0.0` when `host` is not this machine's loopback. */
  bindIp: string | undefined;
}

/**
 * Whether a reaper container holds the session, by the `reaper` setting: `auto` (the default) for remote engines,
 * where the local watchdog cannot be trusted to outlive a lost machine; `on` for every engine; `off` never.
 */
export function reaperWanted(endpoint: EngineEndpoint, mode: ReaperChoice): boolean {
  return mode === 'on' || (mode === 'auto' && isRemoteEngine(endpoint));
}

let current: Promise<EngineSession> | undefined;

/** The session of this process, made on first use. */
export function engineSession(endpoint: EngineEndpoint): Promise<EngineSession> {
  current ??= (async () => {
    const client = new EngineClient(endpoint);
    const info = await client.info();
    const id = randomBytes(8).toString('hex');
    sweepStaleDirs();
    const dir = mkdtempSync(join(tmpdir(), `slipway-engine-${process.pid}-`));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const inContainer = existsSync('/.dockerenv');
    // Inside a container, the bridge gateway is the engine's host, unless the engine runs in this very network
    // namespace (a dockerd inside this container: the gateway is then one of our own addresses, and 127.0.0.1 reaches it).
    const gw = inContainer && endpoint.kind === 'unix' ? await bridgeGateway(client) : undefined;
    const gateway = gw && !(await isOwnAddress(gw)) ? gw : undefined;
    const host = engineClientHost(endpoint, process.env, inContainer, gateway);
    const bindIp = isLoopbackHost(host) ? undefined : '0.0.0.0';
    const labels = { [SESSION_LABEL]: id, 'org.slipway.pid': String(process.pid) };
    let reaperId: string | undefined;
    let watchdogPid: number | undefined;
    let reaperConnection: ReaperConnection | undefined;
    if (reaperWanted(endpoint, configValue('reaper'))) {
      const image = await ensureImage(client, configValue('reaperImage'), {});
      reaperConnection = await startReaper(client, {
        image: image.name, bindIp: bindIp ?? '127.0.0.1', host, session: id, sessionLabel: SESSION_LABEL,
        socketPath: reaperSocketPath(endpoint, configValue('dockerSocketOverride'), process.env.HOME || homedir()),
        reconnectTimeout: configValue('reaperReconnectTimeout'), privileged: configValue('reaperPrivileged'),
      });
      reaperId = reaperConnection.containerId;
    } else {
      watchdogPid = startWatchdog(endpoint, info.api, id, dir, runOwners()).pid;
    }
    log('session %s: ports reached on %s%s', id, host, reaperId ? `, reaper ${reaperId.slice(0, 12)}` : `, watchdog ${watchdogPid}`);
    return { client, info, id, labels, dir, watchdogPid, reaperId, reaper: reaperConnection, host, bindIp };
  })();
  current.catch(() => { current = undefined; });
  return current;
}

/** Whether `ip` is assigned here, whatever its link's state (a bind succeeds; os.networkInterfaces() omits links that are down). */
function isOwnAddress(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, ip, () => srv.close(() => resolve(true)));
  });
}

/** The gateway of the engine's default bridge: the engine's host as a container on it sees it. */
async function bridgeGateway(client: EngineClient): Promise<string | undefined> {
  try {
    const n = await client.call<{ IPAM?: { Config?: { Gateway?: string }[] } }>('GET', '/networks/bridge');
    return n.IPAM?.Config?.find((c) => c.Gateway)?.Gateway;
  } catch { return undefined; }
}

/**
 * Log dirs of sessions whose process is gone (a SIGKILL with a reaper, which cannot reach this machine's files): only
 * real directories of this user's. Anyone may make a `slipway-engine-<dead pid>-x` in /tmp, and a recursive removal
 * of another user's tree (which root may do) is theirs to steer: swapping a subdirectory for a link to `/etc` between
 * the removal's lstat and its readdir made root delete there.
 */
export function sweepStaleDirs(dir = tmpdir()): void {
  const uid = process.getuid?.();
  try {
    for (const name of readdirSync(dir)) {
      const pid = Number(/^slipway-engine-(\d+)-/.exec(name)?.[1]);
      if (!pid || pid === process.pid) continue;
      try { process.kill(pid, 0); continue; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EPERM') continue; }
      const st = lstatOrUndefined(join(dir, name));
      if (!st?.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      try { rmSync(join(dir, name), { recursive: true, force: true }); } catch { /* gone meanwhile */ }
    }
  } catch { /* best effort */ }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try { return lstatSync(p); } catch { return undefined; }
}

/** The session if one was made (volume removal must not start one). */
export function existingEngineSession(): Promise<EngineSession> | undefined { return current; }

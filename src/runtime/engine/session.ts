/**
 * One engine session per process: the client, the session id every resource is labelled with, the watchdog that
 * removes them when this process ends, and a private temp dir (the containers' local log files).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineClient, type EngineInfo } from '../../engine/client.js';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import { SESSION_LABEL, startWatchdog } from '../../engine/watchdog.js';

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
  /** The watchdog's pid. */
  watchdogPid: number | undefined;
}

let current: Promise<EngineSession> | undefined;

/** The session of this process, made on first use. */
export function engineSession(endpoint: EngineEndpoint): Promise<EngineSession> {
  current ??= (async () => {
    const client = new EngineClient(endpoint);
    const info = await client.info();
    const id = randomBytes(8).toString('hex');
    const dir = mkdtempSync(join(tmpdir(), `slipway-engine-${process.pid}-`));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const watchdog = startWatchdog(endpoint, info.api, id, dir);
    return { client, info, id, labels: { [SESSION_LABEL]: id, 'org.slipway.pid': String(process.pid) }, dir, watchdogPid: watchdog.pid };
  })();
  current.catch(() => { current = undefined; });
  return current;
}

/** The session if one was made (volume removal must not start one). */
export function existingEngineSession(): Promise<EngineSession> | undefined { return current; }

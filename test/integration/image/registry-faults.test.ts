// A registry that stalls, and a store that fills up, end to end: the failure is named, bounded, and leaves
// nothing behind (no process, no container dir, no half layer in the store).
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { helperBuilt, skipUnless, spawnTsChild, until, userNamespacesAllowed } from '../harness/index.js';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); } catch { return false; }
}

/** A loopback server that accepts connections and never sends a byte. */
let silent: Server;
const sockets = new Set<Socket>();
let accepted = 0;
let store = '';
beforeAll(async () => {
  // Reads (and ignores) requests, so it sees the client close; never writes.
  silent = createServer((s) => { accepted++; sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); s.resume(); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  store = await mkdtemp(path.join(os.tmpdir(), 'slipway-it-faults-'));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  await rm(store, { recursive: true, force: true });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'start() needs the built helper and user namespaces')('start() against a stalling registry', () => {
  it('withPullTimeout bounds start() against a registry that never answers; nothing is left and the process exits', async () => {
    const port = (silent.address() as { port: number }).port;
    const { child, info } = await spawnTsChild<{ code?: string; message?: string; causeCode?: string; started?: boolean; keeperPid: number; keeperDir: string; containers: string[] }>(
      path.join(import.meta.dirname, 'pull-timeout-child.mts'),
      { CHILD_REF: `127.0.0.1:${port}/stall/app:1`, CHILD_PULL_TIMEOUT: '1500', SLIPWAY_CACHE_DIR: store, SLIPWAY_PULL_TIMEOUT: '' },
    );
    expect(info.started).toBeUndefined();
    expect(info.code).toBe('ERR_PULL_TIMEOUT');
    expect(info.message).toContain(`pulling 127.0.0.1:${port}/stall/app:1 did not finish within 1500 ms`);
    expect(info.message).toContain(`(the pull was aborted while fetching manifest 127.0.0.1:${port}/stall/app:1)`);
    expect(info.causeCode).toBe('ERR_ABORTED');
    expect(info.containers).toEqual([]);
    expect(accepted).toBeGreaterThan(0); // it did reach our server
    // The child exits by itself: no socket, timer or keeper pipe keeps it alive; its keeper goes with it.
    await until(() => child.exitCode !== null, 15_000);
    expect(child.exitCode).toBe(0);
    await until(() => !alive(info.keeperPid) && !existsSync(info.keeperDir), 5000);
    await until(() => sockets.size === 0, 5000); // its connections to the registry are closed
  });
});

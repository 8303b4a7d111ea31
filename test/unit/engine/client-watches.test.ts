// The engine client's container watches (`/wait` long-polls, log follows; CallOptions.watch) against a fake engine on a
// unix socket that never answers them: they must neither use up the call pool (each running container holds two; the
// 16th container's took the last of its 32 connections and every later call waited) nor, for `background` watches
// (a reused container's), keep Node alive.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../../src/engine/client.js';

let dir: string;
let server: Server;
let client: EngineClient;
let waiting = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-watches-'));
  server = createServer((req, res) => {
    if (req.url === '/_ping') { res.writeHead(200, { 'api-version': '1.43' }).end('OK'); return; }
    if (req.url?.endsWith('/version')) { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Version: '24.0.0', ApiVersion: '1.43', Os: 'linux', Arch: 'amd64' })); return; }
    if (req.url?.includes('/wait')) { waiting++; return; } // never answered, as a running container's
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"Id":"c"}');
  });
  // The fake engine's own sockets must not count as this process's references.
  server.on('connection', (s) => s.unref());
  const socketPath = join(dir, 'engine.sock');
  await new Promise<void>((r) => server.listen(socketPath, r));
  server.unref();
  client = new EngineClient({ kind: 'unix', socketPath, source: 'test' } as never);
});
afterAll(async () => {
  await client.close();
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `n` watches and resolves once the fake engine holds them all. */
async function watches(n: number, watch: 'held' | 'background'): Promise<void> {
  const before = waiting;
  for (let i = 0; i < n; i++) client.call('POST', '/containers/c/wait', { long: true, watch }).catch(() => {});
  while (waiting < before + n) await new Promise((r) => setTimeout(r, 10));
}
const pipes = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length;

describe('engine client watches', () => {
  it('40 pending watches (20 running containers) leave the calls answered', async () => {
    await client.info();
    await watches(40, 'held');
    await expect(client.call('GET', '/containers/c/json')).resolves.toEqual({ Id: 'c' });
  }, 20_000);

  it('a held watch keeps Node alive, a background one does not', async () => {
    await client.info();
    // undici unreferences the call's idle connection from an Immediate; a timer runs after it.
    await new Promise((r) => setTimeout(r, 1));
    const start = pipes();
    await watches(3, 'background');
    expect(pipes()).toBe(start);
    await watches(3, 'held');
    expect(pipes()).toBe(start + 3);
  }, 20_000);
});

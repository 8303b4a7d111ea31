// Rootless engines: a rootless dockerd's and rootless Podman's sockets under the user's runtime dir are found by
// discovery (and so by `auto` when no user namespace can be made), with real sockets standing in for the engines.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engineCandidates, realHost, type DiscoveryHost } from '../../../src/engine/endpoint.js';
import { reaperSocketPath } from '../../../src/engine/reaper.js';

let dir: string;
const servers: Server[] = [];
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'slipway-rootless-')); });
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});
/** A listening unix socket at `path` (what a running engine leaves there). */
async function fakeSocket(path: string): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const srv = createServer();
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(path, r));
}
/** Candidates under the temp dir only (this machine's own /var/run/docker.sock is none of this test's business). */
const ours = (host: DiscoveryHost) => engineCandidates(host).filter((e) => e.kind === 'unix' && e.socketPath.startsWith(dir)).map((e) => [e.kind === 'unix' ? e.socketPath.slice(dir.length) : '', e.source]);

describe('rootless engine discovery', () => {
  it('finds a rootless dockerd\'s and rootless Podman\'s sockets in $XDG_RUNTIME_DIR, Docker\'s before Podman\'s', async () => {
    const home = join(dir, 'home');
    await fakeSocket(join(dir, 'run', 'podman', 'podman.sock'));
    await fakeSocket(join(dir, 'run', 'docker.sock'));
    // A plain file where Docker Desktop's socket would be is not an engine.
    mkdirSync(join(home, '.docker', 'run'), { recursive: true });
    writeFileSync(join(home, '.docker', 'run', 'docker.sock'), '');
    await fakeSocket(join(home, '.docker', 'desktop', 'docker.sock'));
    expect(ours(realHost({ XDG_RUNTIME_DIR: join(dir, 'run'), HOME: home }))).toEqual([
      ['/run/docker.sock', 'Docker (rootless)'],
      ['/run/podman/podman.sock', 'Podman (rootless)'],
      ['/home/.docker/desktop/docker.sock', 'Docker Desktop'],
    ]);
  });

  it('without XDG_RUNTIME_DIR (su, cron, CI runners) the runtime dir is /run/user/<uid>, as testcontainers looks', () => {
    const sockets = ['/run/user/1000/docker.sock', '/run/user/1000/podman/podman.sock'];
    const host: DiscoveryHost = { env: {}, home: '/home/u', readFile: () => undefined, isSocket: (p) => sockets.includes(p), uid: 1000 };
    expect(engineCandidates(host).map((e) => e.source)).toEqual(['Docker (rootless)', 'Podman (rootless)']);
    // root has no per-user runtime dir to guess.
    expect(engineCandidates({ ...host, uid: 0 })).toEqual([]);
  });

  it('the reaper mounts the rootless socket it was found at, not root\'s /var/run/docker.sock', async () => {
    await fakeSocket(join(dir, 'run', 'docker.sock'));
    const [e] = engineCandidates(realHost({ XDG_RUNTIME_DIR: join(dir, 'run'), HOME: join(dir, 'home') })).filter((c) => c.source === 'Docker (rootless)');
    expect(reaperSocketPath(e!, undefined, join(dir, 'home'))).toBe(join(dir, 'run', 'docker.sock'));
  });
});

// The test process's side of the reaper: the socket it mounts, and the connection that comes back after a drop.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ReaperConnection, reaperSocketPath } from '../../../src/engine/reaper.js';
import type { EngineEndpoint } from '../../../src/engine/endpoint.js';
import { connect } from 'node:net';

describe('reaper socket path', () => {
  const unix = (socketPath: string): EngineEndpoint => ({ kind: 'unix', socketPath, source: 'test' });
  it('the override first, then the engine\'s own socket when it is this machine\'s, else the VM\'s /var/run/docker.sock', () => {
    expect(reaperSocketPath(unix('/run/user/1000/docker.sock'), '/custom.sock', '/home/u')).toBe('/custom.sock');
    // A rootless dockerd or Podman: the reaper must mount that socket, not root's /var/run/docker.sock.
    expect(reaperSocketPath(unix('/run/user/1000/docker.sock'), undefined, '/home/u')).toBe('/run/user/1000/docker.sock');
    expect(reaperSocketPath(unix('/run/user/1000/podman/podman.sock'), undefined, '/home/u')).toBe('/run/user/1000/podman/podman.sock');
    expect(reaperSocketPath(unix('/var/run/docker.sock'), undefined, '/home/u')).toBe('/var/run/docker.sock');
    for (const vm of ['/home/u/.docker/run/docker.sock', '/home/u/.colima/default/docker.sock', '/home/u/.rd/docker.sock']) {
      expect(reaperSocketPath(unix(vm), undefined, '/home/u')).toBe('/var/run/docker.sock');
    }
    expect(reaperSocketPath({ kind: 'tcp', host: 'build-box', port: 2376, source: 'DOCKER_HOST' }, undefined, '/home/u')).toBe('/var/run/docker.sock');
  });
});

describe('reaper connection', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /** A fake reaper speaking Ryuk's protocol; records every label line and keeps the server-side sockets. */
  async function fakeReaper(): Promise<{ port: number; labels: string[]; peers: Socket[] }> {
    const labels: string[] = [];
    const peers: Socket[] = [];
    server = createServer((s) => {
      peers.push(s);
      s.on('data', (d) => { for (const l of d.toString().split('\n').filter(Boolean)) { labels.push(l); s.write('ACK\n'); } });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { port: (server!.address() as { port: number }).port, labels, peers };
  }
  const hold = (port: number) => new Promise<Socket>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => s.write('label=k=v\n'));
    s.once('data', () => resolve(s));
    s.once('error', reject);
  });

  it('a dropped connection is made again and the label sent again, so the reaper keeps the session', async () => {
    const r = await fakeReaper();
    const c = new ReaperConnection('a'.repeat(64), await hold(r.port), () => hold(r.port), 10_000);
    expect(r.labels).toEqual(['label=k=v']);
    // The blip: the reaper's side of the connection goes away.
    r.peers[0]!.destroy();
    for (const t0 = Date.now(); c.reconnects < 1 && Date.now() - t0 < 10_000;) await new Promise((res) => setTimeout(res, 20));
    expect(c.reconnects).toBe(1);
    expect(r.labels).toEqual(['label=k=v', 'label=k=v']);
    expect(c.socket.destroyed).toBe(false);
    // And again after a second drop (each new socket is watched).
    r.peers[1]!.destroy();
    for (const t0 = Date.now(); c.reconnects < 2 && Date.now() - t0 < 10_000;) await new Promise((res) => setTimeout(res, 20));
    expect(c.reconnects).toBe(2);
  });
});

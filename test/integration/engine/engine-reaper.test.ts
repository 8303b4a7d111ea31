// The reaper container (remote engines' teardown, as Ryuk): run here on the local engine through TCP (127.0.0.1) with
// the watchdog off (SLIPWAY_REAPER=on), so only the reaper can remove what a SIGKILLed test process left.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { fixtureRef, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A TCP front for the local engine's unix socket on 127.0.0.1 (as a remote `DOCKER_HOST=tcp://…` engine is reached). */
function tcpProxy(socketPath: string): Promise<Server> {
  const srv = createServer((req, res) => {
    const up = request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  // Hijacked exec connections are not needed here.
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

/** Forwards 127.0.0.2:<port> to the reaper's published 127.0.0.1:<port>; `blip()` resets every connection and refuses new ones for a while. */
class BlipProxy {
  readonly #servers = new Map<number, NetServer>();
  readonly #pairs = new Set<[Socket, Socket]>();

  forward(port: number): void {
    if (this.#servers.has(port)) return;
    const srv = createNetServer((down) => {
      const up = connect({ host: '127.0.0.1', port });
      const pair: [Socket, Socket] = [down, up];
      this.#pairs.add(pair);
      const drop = () => { this.#pairs.delete(pair); down.destroy(); up.destroy(); };
      down.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      down.pipe(up);
      up.pipe(down);
    });
    srv.listen(port, '127.0.0.2');
    this.#servers.set(port, srv);
  }

  connections(): number { return this.#pairs.size; }

  async blip(ms: number): Promise<void> {
    const ports = [...this.#servers.keys()];
    for (const srv of this.#servers.values()) srv.close();
    this.#servers.clear();
    for (const [down, up] of this.#pairs) { down.resetAndDestroy(); up.destroy(); }
    this.#pairs.clear();
    await new Promise((r) => setTimeout(r, ms));
    for (const p of ports) this.forward(p);
  }

  close(): void {
    for (const srv of this.#servers.values()) srv.close();
    for (const [down, up] of this.#pairs) { down.destroy(); up.destroy(); }
  }
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: reaper container', () => {
  const servers: Server[] = [];
  const dirs: string[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /**
   * A child process holding a container, a network and a volume on the engine through TCP, with only the reaper to
   * clean up (a 2 s reconnect grace unless `env` says otherwise); `more` runs after its first line is printed.
   */
  async function startChild(more = '', env: NodeJS.ProcessEnv = {}) {
    const srv = await tcpProxy('/var/run/docker.sock');
    servers.push(srv);
    const port = (srv.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-reaper-'));
    dirs.push(dir);
    const script = join(dir, 'child.mts');
    writeFileSync(script, `
      import { Container, Network, Volume } from ${JSON.stringify(join(root, 'src/index.ts'))};
      import { existingEngineSession } from ${JSON.stringify(join(root, 'src/runtime/engine/session.ts'))};
      const net = await Network.create();
      const c = await new Container(${JSON.stringify(fixtureRef('busybox'))}).withNetwork(net).withVolume(Volume.named('reaped'), '/v').withCommand(['sleep', '1000']).start();
      const s = await existingEngineSession();
      console.log(JSON.stringify({ id: c.id, host: c.getHost(), watchdogPid: s?.watchdogPid ?? null, reaperId: s?.reaperId }));
      ${more}
      setInterval(() => {}, 1000);
    `);
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), script], {
      cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env, SLIPWAY_RUNTIME: 'engine', DOCKER_HOST: `tcp://127.0.0.1:${port}`, SLIPWAY_REAPER: 'on', SLIPWAY_REAPER_IMAGE: fixtureRef('debian'),
        SLIPWAY_REAPER_RECONNECT_TIMEOUT: '2000', ...env,
      },
    });
    children.push(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    await waitFor(() => out.includes('\n') || child.exitCode !== null, 120_000);
    const r = JSON.parse(out.split('\n')[0]!) as { id: string; host: string; watchdogPid: number | null; reaperId: string };
    const session = docker('inspect', '-f', '{{index .Config.Labels "org.slipway.session"}}', r.id);
    const filter = `label=org.slipway.session=${session}`;
    const left = () => [docker('ps', '-aq', '--filter', filter), docker('network', 'ls', '-q', '--filter', filter), docker('volume', 'ls', '-q', '--filter', filter)];
    const reaperLeft = () => docker('ps', '-aq', '--filter', `label=org.slipway.reaper=${session}`);
    return { child, r, session, left, reaperLeft, output: () => out };
  }
  const children: ChildProcess[] = [];
  afterAll(() => { for (const c of children) c.kill('SIGKILL'); });

  it('kill -9 of the test process: the reaper container removes its containers, networks and volumes, then itself', async () => {
    const { child, r, session, left, reaperLeft } = await startChild();
    // No watchdog: only the reaper can clean up. Ports of an engine on 127.0.0.1 are reached there.
    expect(r).toMatchObject({ watchdogPid: null, host: '127.0.0.1' });
    expect(docker('inspect', '-f', '{{index .Config.Labels "org.slipway.reaper"}}', r.reaperId)).toBe(session);
    expect(left().every((ids) => ids !== '')).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await waitFor(() => left().every((ids) => ids === '') && reaperLeft() === '', 60_000);
  }, 180_000);

  it('a connection that drops while the test process lives is made again within the grace: nothing is removed; a dead one is swept', async () => {
    // The test process reaches the reaper through a proxy of ours on 127.0.0.2 (SLIPWAY_HOST), which the blip cuts.
    const before = new Set(docker('ps', '-q', '--filter', 'label=org.slipway.reaper').split('\n'));
    const proxy = new BlipProxy();
    const watcher = setInterval(() => {
      for (const line of docker('ps', '--filter', 'label=org.slipway.reaper', '--format', '{{.ID}} {{.Ports}}').split('\n')) {
        const [id, ports] = line.split(' ');
        const port = Number(/127\.0\.0\.1:(\d+)->/.exec(ports ?? '')?.[1]);
        if (id && port && !before.has(id)) proxy.forward(port);
      }
    }, 200);
    try {
      const { child, left, reaperLeft } = await startChild('', { SLIPWAY_HOST: '127.0.0.2', SLIPWAY_REAPER_RECONNECT_TIMEOUT: '5000' });
      expect(proxy.connections()).toBe(1);
      // The blip: every connection reset and new ones refused for 1 s.
      await proxy.blip(1000);
      // Reconnected (through the proxy again), and past the 5 s grace with margin the session is still held.
      await waitFor(() => proxy.connections() === 1, 10_000);
      await new Promise((r) => setTimeout(r, 8000));
      expect(left().every((ids) => ids !== '')).toBe(true);
      expect(reaperLeft()).not.toBe('');
      // A dead test process is still swept after the grace.
      child.kill('SIGKILL');
      await once(child, 'exit');
      await waitFor(() => left().every((ids) => ids === '') && reaperLeft() === '', 60_000);
    } finally {
      clearInterval(watcher);
      proxy.close();
    }
  }, 180_000);
});

// The reaper container (remote engines' teardown, as Ryuk): run here on the local engine through TCP (127.0.0.1) with
// the watchdog off (SLIPWAY_REAPER=on), so only the reaper can remove what a SIGKILLed test process left.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
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

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: reaper container', () => {
  const servers: Server[] = [];
  const dirs: string[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('kill -9 of the test process: the reaper container removes its containers, networks and volumes, then itself', async () => {
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
      setInterval(() => {}, 1000);
    `);
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), script], {
      cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SLIPWAY_RUNTIME: 'engine', DOCKER_HOST: `tcp://127.0.0.1:${port}`, SLIPWAY_REAPER: 'on', SLIPWAY_REAPER_IMAGE: fixtureRef('debian') },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    try {
      await waitFor(() => out.includes('\n') || child.exitCode !== null, 120_000);
      const r = JSON.parse(out) as { id: string; host: string; watchdogPid: number | null; reaperId: string };
      // No watchdog: only the reaper can clean up. Ports of an engine on 127.0.0.1 are reached there.
      expect(r).toMatchObject({ watchdogPid: null, host: '127.0.0.1' });
      const session = docker('inspect', '-f', '{{index .Config.Labels "org.slipway.session"}}', r.id);
      expect(docker('inspect', '-f', '{{index .Config.Labels "org.slipway.reaper"}}', r.reaperId)).toBe(session);
      const filter = `label=org.slipway.session=${session}`;
      expect(docker('network', 'ls', '-q', '--filter', filter)).not.toBe('');
      expect(docker('volume', 'ls', '-q', '--filter', filter)).not.toBe('');
      child.kill('SIGKILL');
      await once(child, 'exit');
      await waitFor(() => docker('ps', '-aq', '--filter', filter) === '' && docker('network', 'ls', '-q', '--filter', filter) === ''
        && docker('volume', 'ls', '-q', '--filter', filter) === '' && docker('ps', '-aq', '--filter', `label=org.slipway.reaper=${session}`) === '', 60_000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 180_000);
});

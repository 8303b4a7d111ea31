// Engine-only behaviour: the teardown guarantee (kill -9 of the test process), a TCP engine, version negotiation.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { EngineClient } from '../../../src/engine/client.js';
import { fixtureRef, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const root = fileURLToPath(new URL('../../..', import.meta.url));
async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

/** A TCP front for the local engine's unix socket on 127.0.0.1 (as a remote `DOCKER_HOST=tcp://…` engine is reached). */
function tcpProxy(socketPath: string, seen: string[]): Promise<Server> {
  const srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const up = request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: engine only', () => {
  const servers: Server[] = [];
  const dirs: string[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('kill -9 of the test process: the watchdog removes its containers, networks and volumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-kill-'));
    dirs.push(dir);
    const script = join(dir, 'child.mts');
    writeFileSync(script, `
      import { Container, Network, Volume } from ${JSON.stringify(join(root, 'src/index.ts'))};
      const net = await Network.create();
      const c = await new Container(${JSON.stringify(fixtureRef('busybox'))}).withNetwork(net).withVolume(Volume.named('kept-by-none'), '/v').withCommand(['sleep', '1000']).start();
      console.log(c.id);
      setInterval(() => {}, 1000);
    `);
    const viteNode = join(root, 'node_modules/vite-node/vite-node.mjs');
    const child = spawn(process.execPath, [viteNode, script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLIPWAY_RUNTIME: 'engine' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    await waitFor(() => /[0-9a-f]{64}/.test(out), 90_000);
    const id = /[0-9a-f]{64}/.exec(out)![0];
    const session = docker('inspect', '-f', '{{index .Config.Labels "org.slipway.session"}}', id);
    const filter = `label=org.slipway.session=${session}`;
    expect(docker('ps', '-aq', '--filter', filter)).not.toBe('');
    expect(docker('network', 'ls', '-q', '--filter', filter)).not.toBe('');
    expect(docker('volume', 'ls', '-q', '--filter', filter)).not.toBe('');
    child.kill('SIGKILL');
    await once(child, 'exit');
    await waitFor(() => docker('ps', '-aq', '--filter', filter) === '' && docker('network', 'ls', '-q', '--filter', filter) === '' && docker('volume', 'ls', '-q', '--filter', filter) === '', 60_000);
  });

  it('a TCP engine (DOCKER_HOST=tcp://127.0.0.1:<port>): the version is negotiated and every call carries it', async () => {
    const seen: string[] = [];
    const srv = await tcpProxy('/var/run/docker.sock', seen);
    servers.push(srv);
    const port = (srv.address() as { port: number }).port;
    const client = new EngineClient({ kind: 'tcp', host: '127.0.0.1', port, source: 'test' });
    const info = await client.info();
    await client.close();
    const engineApi = docker('version', '--format', '{{.Server.APIVersion}}');
    expect(info.engineApi).toBe(engineApi);
    expect(info.api).toBe(engineApi.localeCompare('1.43', undefined, { numeric: true }) > 0 ? '1.43' : engineApi);
    expect(seen[0]).toBe('GET /_ping');
    expect(seen.slice(1).every((s) => s.includes(`/v${info.api}/`))).toBe(true);
  });

  it('runs a container through the TCP engine with a pinned older API version (DOCKER_API_VERSION)', async () => {
    const seen: string[] = [];
    const srv = await tcpProxy('/var/run/docker.sock', seen);
    servers.push(srv);
    const port = (srv.address() as { port: number }).port;
    const script = `
      import { Container } from ${JSON.stringify(join(root, 'src/index.ts'))};
      const r = await new Container(${JSON.stringify(fixtureRef('busybox'))}).withCommand(['echo', 'over tcp']).run();
      console.log(JSON.stringify(r.stdout));
    `;
    const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-tcp-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'child.mts'), script);
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(dir, 'child.mts')], {
      cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SLIPWAY_RUNTIME: 'engine', DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_API_VERSION: '1.40' },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    const [code] = await once(child, 'exit') as [number];
    expect(code).toBe(0);
    expect(out.trim()).toBe('"over tcp\\n"');
    expect(seen.some((s) => s.startsWith('POST /v1.40/containers/create'))).toBe(true);
  });

  it('the engine\'s own messages reach the error: an image it cannot find is ERR_IMAGE_NOT_FOUND', async () => {
    await expect(new Container(`${fixtureRef('busybox').replace(/busybox:.*/, 'no-such-image:1')}`).withCommand(['true']).start())
      .rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
  });

  it('snapshots: withSnapshot() is ERR_UNSUPPORTED before anything starts; a module\'s default snapshot is skipped (snapshot/*.test.ts are native)', async () => {
    const err = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).withSnapshot().start().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UNSUPPORTED' });
    expect((err as Error).message).toMatch(/withSnapshot\(\) is not supported: snapshots are layers in slipway's store, which an engine runtime does not mount/);
    const { RedisContainer } = await import('../../../src/modules/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'engine-snap-'));
    writeFileSync(join(dir, 'seed.redis'), 'SET k v\n');
    await using redis = await new RedisContainer(fixtureRef('redis')).withInitialData(join(dir, 'seed.redis')).start();
    rmSync(dir, { recursive: true, force: true });
    expect((await redis.exec(['redis-cli', 'GET', 'k'])).stdout.trim()).toBe('v');
    await expect(redis.reset()).rejects.toMatchObject({ code: 'ERR_SNAPSHOT' });
  });

  it('withHostAccess(): host.slipway.internal is the bridge gateway, which reaches a host server listening there and not one on 127.0.0.1 only (network/host-access.test.ts is native)', async () => {
    const gateway = docker('network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}');
    const listen = (host: string) => new Promise<Server>((resolve) => {
      const srv = createServer((_req, res) => res.end(`from ${host}`));
      servers.push(srv);
      srv.listen(0, host, () => resolve(srv));
    });
    const onGateway = await listen(gateway);
    const onLoopback = await listen('127.0.0.1');
    const port = (srv: Server) => (srv.address() as { port: number }).port;
    const get = (p: number) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 host.slipway.internal ${p} | tail -n 1; echo`;
    const r = await new Container(fixtureRef('busybox')).withHostAccess(port(onGateway), port(onLoopback))
      .withCommand(['sh', '-c', `grep -w host.slipway.internal /etc/hosts | cut -f1 | cut -d' ' -f1; ${get(port(onGateway))}; ${get(port(onLoopback))}`]).run();
    const [addr, first, second] = r.stdout.trim().split('\n');
    expect(addr).toBe(gateway);
    expect(first).toBe(`from ${gateway}`);
    expect(second ?? '').not.toMatch(/from/);
  });
});

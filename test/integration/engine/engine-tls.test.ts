// A TLS engine for real: a second dockerd on 127.0.0.1 with --tlsverify and certificates made here with openssl (CA, server,
// client). One container runs end to end through it (create, exec with stdin on the hijacked TLS connection, logs), the
// watchdog removes it over TLS after kill -9, and certificates it does not trust (or that do not trust it) fail with one
// clear SlipwayError. The main dockerd is never touched. Podman's API is only unit-tested: Podman does not run here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EngineClient } from '../../../src/engine/client.js';
import { engineCandidates, realHost } from '../../../src/engine/endpoint.js';
import { findEngine } from '../../../src/runtime/index.js';
import { fixtureRef, isRoot, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, and certificates it signs: `server` for IP 127.0.0.1, `client` for client auth. */
function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-ca-key.pem`, '-out', `${name}-ca.pem`, '-days', '1', '-subj', `/CN=${name} test CA`);
}
function signed(dir: string, ca: string, name: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}-ca.pem`, '-CAkey', `${ca}-ca-key.pem`, '-CAcreateserial', '-out', `${name}-cert.pem`, '-days', '1', '-extfile', `${name}.ext`);
}
/** A DOCKER_CERT_PATH directory: ca.pem, cert.pem, key.pem. */
function certPath(dir: string, name: string, ca: string, client: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  copyFileSync(join(dir, `${ca}-ca.pem`), join(d, 'ca.pem'));
  copyFileSync(join(dir, `${client}-cert.pem`), join(d, 'cert.pem'));
  copyFileSync(join(dir, `${client}-key.pem`), join(d, 'key.pem'));
  return d;
}
function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); }); });
}
async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

skipUnless(engineAvailable() && isRoot(), 'the TLS engine test starts a second dockerd (root, engine pass): sudo bash scripts/test-engine.sh')('engine backend: TLS (a second dockerd with --tlsverify)', () => {
  let dir = '';
  let dockerd: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv = {};
  let good = '';
  const bridge = `swtls${randomBytes(3).toString('hex')}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }).trim();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-engine-tls-'));
    makeCa(dir, 'good');
    makeCa(dir, 'rogue');
    signed(dir, 'good', 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    signed(dir, 'good', 'client', 'extendedKeyUsage=clientAuth\n');
    signed(dir, 'rogue', 'intruder', 'extendedKeyUsage=clientAuth\n');
    good = certPath(dir, 'good-client', 'good', 'client');
    const port = await freePort();
    for (const d of ['data', 'exec']) mkdirSync(join(dir, d));
    // Its own data root, exec root (and so its own containerd), pidfile, address and bridge, no iptables: it shares
    // nothing with the main dockerd but the kernel. Not `--bridge none`: a dockerd started so deletes the host's docker0,
    // which the main dockerd's containers need.
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `10.213.${randomInt(0, 256)}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    dockerd = spawn('dockerd', [
      '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid'), '-H', `tcp://127.0.0.1:${port}`,
      '--tlsverify', '--tlscacert', join(dir, 'good-ca.pem'), '--tlscert', join(dir, 'server-cert.pem'), '--tlskey', join(dir, 'server-key.pem'),
      '--bridge', bridge, '--iptables=false', '--ip-masq=false', '--userland-proxy=false',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    dockerd.stderr!.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-4000); });
    env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: good };
    await waitFor(() => { try { return docker('version', '--format', '{{.Server.APIVersion}}') !== ''; } catch { return dockerd?.exitCode !== null ? (() => { throw new Error(`dockerd exited: ${log}`); })() : false; } }, 60_000);
  }, 90_000);

  afterAll(async () => {
    if (dockerd && dockerd.exitCode === null) {
      dockerd.kill('SIGTERM');
      const exited = once(dockerd, 'exit');
      const t = setTimeout(() => dockerd?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
    // Overlay mounts the daemon left (a killed one) would make the removal fail: unmount what is under our dir first.
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => dir && m.startsWith(dir)).reverse();
    for (const m of mounts) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
    if (dir) rmSync(dir, { recursive: true, force: true });
    try { ip('link', 'del', bridge); } catch { /* not made */ }
  }, 60_000);

  it('runs a container end to end through DOCKER_HOST=tcp://127.0.0.1 with DOCKER_TLS_VERIFY; kill -9 leaves nothing', async () => {
    const script = join(dir, 'child.mts');
    writeFileSync(script, `
      import { Container, Wait } from ${JSON.stringify(join(root, 'src/index.ts'))};
      const c = await new Container(${JSON.stringify(fixtureRef('busybox'))}).withNetworkMode('none').waitFor(Wait.forLogMessage('over tls'))
        .withCommand(['sh', '-c', 'echo over tls; exec sleep 1000']).withFile('/in.txt', 'copied in').start();
      const r = await c.exec(['sh', '-c', 'cat; cat /in.txt'], { stdin: 'from stdin ' });
      const logs = await c.logs().text();
      console.log(JSON.stringify({ id: c.id, stdout: r.stdout, exitCode: r.exitCode, logs }));
      setInterval(() => {}, 1000);
    `);
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), script], {
      cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env, SLIPWAY_RUNTIME: 'engine' },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
    try {
      await waitFor(() => out.includes('\n') || child.exitCode !== null, 120_000);
      const r = JSON.parse(out) as { id: string; stdout: string; exitCode: number; logs: string };
      expect(r).toMatchObject({ stdout: 'from stdin copied in', exitCode: 0 });
      expect(r.logs).toContain('over tls');
      // The container is in the TLS engine, not in the main one.
      expect(docker('inspect', '-f', '{{.State.Running}}', r.id)).toBe('true');
      const session = docker('inspect', '-f', '{{index .Config.Labels "org.slipway.session"}}', r.id);
      child.kill('SIGKILL');
      await once(child, 'exit');
      // The watchdog reaches the engine over TLS too.
      await waitFor(() => docker('ps', '-aq', '--filter', `label=org.slipway.session=${session}`) === '', 60_000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 180_000);

  it('an engine certificate this client does not trust fails with one clear SlipwayError', async () => {
    const badCa = certPath(dir, 'rogue-ca', 'rogue', 'client');
    const tlsEnv = { ...env, DOCKER_CERT_PATH: badCa };
    const found = await findEngine(tlsEnv);
    expect(found.endpoint).toBeUndefined();
    // Runtime selection throws this one rather than "no engine answered".
    expect(found.failure).toMatchObject({ code: 'ERR_RUNTIME_UNAVAILABLE', message: expect.stringMatching(/presented a certificate this client does not trust/), hint: expect.stringContaining('ca.pem') });
    const client = new EngineClient(engineCandidates(realHost(tlsEnv))[0]!);
    await expect(client.info()).rejects.toMatchObject({ code: 'ERR_RUNTIME_UNAVAILABLE', message: expect.stringMatching(/does not trust/) });
    await client.close();
  });

  it('a client certificate the engine does not trust fails with one clear SlipwayError', async () => {
    const intruder = certPath(dir, 'intruder', 'good', 'intruder');
    const found = await findEngine({ ...env, DOCKER_CERT_PATH: intruder });
    expect(found.failure).toMatchObject({ code: 'ERR_RUNTIME_UNAVAILABLE', message: expect.stringMatching(/refused this client's certificate/), hint: expect.stringContaining('cert.pem') });
  });

  it('the plain port of a TLS-less client is told apart: TLS spoken to a plain HTTP engine', async () => {
    const plain = createServer((s) => s.end('HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const found = await findEngine({ ...env, DOCKER_HOST: `tcp://127.0.0.1:${(plain.address() as { port: number }).port}` });
      expect(found.failure).toMatchObject({ code: 'ERR_RUNTIME_UNAVAILABLE', message: expect.stringMatching(/does not speak TLS/) });
    } finally {
      plain.close();
    }
  });
});

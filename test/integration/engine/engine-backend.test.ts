// The engine backend (SLIPWAY_RUNTIME=engine) against a real Docker engine: the public API, one switch.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Container, Network, Volume, Wait } from '../../../src/index.js';
import { fixtureArchive, fixtureLayout, fixtureRef, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const busybox = () => fixtureRef('busybox');

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: containers', () => {
  it('runs a command with env, user, workdir and entrypoint rules; exit code and both streams come back', async () => {
    const r = await new Container(busybox()).withEnv({ A: 'x' }).withUser('nobody').withWorkdir('/tmp')
      .withCommand(['sh', '-c', 'echo "$A $(id -u) $(pwd)"; echo err >&2; exit 3']).run();
    expect(r).toMatchObject({ exitCode: 3, signal: null, stdout: 'x 65534 /tmp\n', stderr: 'err\n' });
  });

  it('exec with stdin, env, user and workdir; logs follow; ports published on 127.0.0.1', async () => {
    await using c = await new Container(busybox()).withHostname('boxy').expose(8080)
      .withCommand(['sh', '-c', 'echo started; mkdir -p /www; echo hello > /www/index.html; httpd -f -p 8080 -h /www'])
      .waitFor(Wait.forLogMessage('started')).start();
    expect((await c.exec(['hostname'])).stdout).toBe('boxy\n');
    const r = await c.exec(['sh', '-c', 'cat; echo $E $(pwd) $(id -u); exit 4'], { stdin: 'in\n', env: { E: 'e' }, workdir: '/tmp', user: 'nobody' });
    expect(r).toMatchObject({ exitCode: 4, stdout: 'in\ne /tmp 65534\n' });
    expect(await c.logs().text()).toContain('started\n');
    const port = c.getMappedPort(8080);
    expect(c.host).toBe('127.0.0.1');
    const body = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /index.html HTTP/1.0\r\n\r\n'));
      let t = '';
      s.on('data', (d) => { t += d; }).on('end', () => resolve(t)).on('error', reject);
    });
    expect(body).toContain('hello');
  });

  it('copyTo / copyFrom through the archive endpoints, withFile before start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-engine-'));
    await writeFile(join(dir, 'a.txt'), 'from host');
    await using c = await new Container(busybox()).withFile('/etc/app.conf', 'k=v', { mode: 0o600 }).withCommand(['sleep', '1000']).start();
    expect((await c.exec(['sh', '-c', 'cat /etc/app.conf; stat -c %a /etc/app.conf'])).stdout).toBe('k=v600\n');
    await c.copyTo(join(dir, 'a.txt'), '/data/a.txt');
    await c.copyTo(Buffer.from('buf'), '/data/b.txt', { mode: 0o640 });
    expect((await c.exec(['cat', '/data/a.txt', '/data/b.txt'])).stdout).toBe('from hostbuf');
    await c.copyFrom('/data', join(dir, 'out'));
    expect(await readFile(join(dir, 'out', 'b.txt'), 'utf8')).toBe('buf');
    await expect(c.copyFrom('/nope')).rejects.toMatchObject({ code: 'ERR_COPY_SOURCE_MISSING' });
    await rm(dir, { recursive: true, force: true });
  });

  it('stop sends the stop signal through the engine\'s init; the exit is reported as natively', async () => {
    const c = await new Container(busybox()).withCommand(['sleep', '1000']).start();
    const exit = await c.stop({ timeout: 10_000 });
    expect(exit).toMatchObject({ exitCode: null, signal: 'SIGTERM', oomKilled: false });
    await c.remove();
    await c.remove();
  });

  it('user networks: containers reach each other by alias; volumes outlive a container', async () => {
    await using net = await Network.create();
    await using vol = Volume.named(`v${Date.now()}`);
    await using server = await new Container(busybox()).withNetwork(net, { aliases: ['db'] }).withVolume(vol, '/data')
      .withCommand(['sh', '-c', 'echo kept > /data/f; mkdir /www; echo pong > /www/p; httpd -f -p 80 -h /www']).start();
    const client = await new Container(busybox()).withNetwork(net).withCommand(['wget', '-qO-', 'http://db/p']).run();
    expect(client.stdout).toBe('pong\n');
    expect(server.networks.get(net.name)?.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const reader = await new Container(busybox()).withVolume(vol, '/data').withCommand(['cat', '/data/f']).run();
    expect(reader.stdout).toBe('kept\n');
  });

  it('what needs slipway\'s own store is refused on the engine, naming the way out; commit() is the engine\'s', async () => {
    await using c = await new Container(busybox()).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'echo committed > /greeting']);
    const ref = await c.commit();
    expect(ref).toMatch(/^localhost\/slipway-commit:[0-9a-f]{12}$/);
    try {
      expect((await new Container(ref).withPullPolicy('never').withCommand(['cat', '/greeting']).run()).stdout).toBe('committed\n');
    } finally {
      execFileSync('docker', ['rmi', '-f', ref], { stdio: 'ignore' });
    }
    await expect(new Container(`oci-layout:${fixtureLayout('busybox')}:latest`).withCommand(['true']).run()).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
    const fromArchive = await new Container(`docker-archive:${fixtureArchive('busybox-docker')}`).withCommand(['echo', 'archive']).run();
    expect(fromArchive.stdout).toBe('archive\n');
  });

  it('labels every container with the session', async () => {
    await using c = await new Container(busybox()).withLabels({ mine: 'yes' }).withCommand(['sleep', '1000']).start();
    const labels = JSON.parse(execFileSync('docker', ['inspect', '-f', '{{json .Config.Labels}}', c.id]).toString()) as Record<string, string>;
    expect(labels).toMatchObject({ mine: 'yes' });
    expect(labels['org.slipway.session']).toMatch(/^[0-9a-f]{16}$/);
  });
});

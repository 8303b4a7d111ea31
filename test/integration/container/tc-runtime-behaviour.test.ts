/**
 * Issue 10, behaviour that differed from testcontainers: `withExposedPorts({ container, host, protocol: 'udp' })`
 * publishes UDP; `withCopyDirectoriesToContainer`/`withCopyFilesToContainer` apply `mode` to the files copied and
 * follow a symlink given as the source (never one inside a copied tree).
 */
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GenericContainer } from '../../../src/testcontainers.js';
import { fixtureRef, hasCommand, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const canRun = helperBuilt() && userNamespacesAllowed();

/** A UDP port free on 127.0.0.1 right now. */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const { port } = s.address();
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

function askUdp(port: number, msg: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setInterval(() => sock.send(msg, port, '127.0.0.1'), 200); // retry until the server is up
    const fail = setTimeout(() => { clearInterval(timer); sock.close(); reject(new Error('no UDP reply')); }, 10_000);
    sock.on('message', (m) => { clearInterval(timer); clearTimeout(fail); sock.close(); resolve(m.toString()); });
    sock.on('error', reject);
    sock.send(msg, port, '127.0.0.1');
  });
}

skipUnless(canRun && hasCommand('cc'), 'needs the native helper, user namespaces and a C compiler (build-essential) for the UDP echo server')('withExposedPorts with a protocol', () => {
  it("{ container, host, protocol: 'udp' } publishes UDP on that host port (not TCP)", async () => {
    const { toolsLayer } = await import('../keeper/fixture.js');
    const host = await freeUdpPort();
    const c = await new GenericContainer(fixtureRef('busybox'))
      .withCopyFilesToContainer([{ source: join(toolsLayer(), 'bin', 'udp-echo'), target: '/usr/local/bin/udp-echo', mode: 0o755 }])
      .withCommand(['/usr/local/bin/udp-echo', '5005'])
      .withExposedPorts({ container: 5005, host, protocol: 'udp' })
      .start();
    try {
      expect(c.getMappedPort('5005/udp')).toBe(host);
      expect(await askUdp(host, 'hello')).toMatch(/^\d+:hello$/);
    } finally {
      await c.stop();
    }
  });
});

skipUnless(canRun, 'needs the native helper and user namespaces')('copies: mode and symlinked sources', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-copy-mode-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'tree', 'a.sh'), 'echo a\n', { mode: 0o600 });
    writeFileSync(join(dir, 'tree', 'sub', 'b.txt'), 'bee\n', { mode: 0o600 });
    writeFileSync(join(dir, 'secret'), 'outside the tree\n');
    symlinkSync('../secret', join(dir, 'tree', 'inner-link')); // inside the tree: copied as a link, never followed
    writeFileSync(join(dir, 'real.txt'), 'pointed at\n', { mode: 0o640 });
    symlinkSync(join(dir, 'real.txt'), join(dir, 'file-link'));
    symlinkSync(join(dir, 'tree'), join(dir, 'dir-link'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('withCopyDirectoriesToContainer applies mode to every file copied; directories stay traversable', async () => {
    const c = await new GenericContainer(fixtureRef('busybox')).withCommand(['sleep', '3600'])
      .withCopyDirectoriesToContainer([{ source: join(dir, 'tree'), target: '/data', mode: 0o755 }])
      .start();
    try {
      const r = await c.exec(['sh', '-c', 'stat -c "%n %a" /data/a.sh /data/sub/b.txt /data/sub; readlink /data/inner-link; /data/a.sh']);
      expect(r.exitCode, r.output).toBe(0);
      expect(r.stdout).toBe('/data/a.sh 755\n/data/sub/b.txt 755\n/data/sub 755\n../secret\na\n');
    } finally {
      await c.stop();
    }
  });

  it('a symlink given as the copy source copies what it points to (file or directory), as docker cp does', async () => {
    const c = await new GenericContainer(fixtureRef('busybox')).withCommand(['sleep', '3600'])
      .withCopyFilesToContainer([{ source: join(dir, 'file-link'), target: '/etc/app.txt' }])
      .withCopyDirectoriesToContainer([{ source: join(dir, 'dir-link'), target: '/tree' }])
      .start();
    try {
      const r = await c.exec(['sh', '-c', 'stat -c "%F %a" /etc/app.txt; cat /etc/app.txt; stat -c "%F" /tree /tree/inner-link; cat /tree/sub/b.txt']);
      expect(r.exitCode, r.output).toBe(0);
      expect(r.stdout).toBe('regular file 640\npointed at\ndirectory\nsymbolic link\nbee\n');
      // The started side's copy takes the same path.
      await c.copyFilesToContainer([{ source: join(dir, 'file-link'), target: '/etc/again.txt' }]);
      expect((await c.exec(['cat', '/etc/again.txt'])).stdout).toBe('pointed at\n');
    } finally {
      await c.stop();
    }
  });
});

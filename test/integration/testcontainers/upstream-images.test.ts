/**
 * The stand-ins for the images testcontainers-node's own suite uses (scripts/fixtures/build.sh `testcontainer`):
 * `cristianrgreco/testcontainer:1.1.14` and `mendhak/udp-listener`, pulled by their Docker Hub names through the
 * hub prefix, behave as that suite expects (routes, TLS on 8443, user node, node at /usr/local/bin, UDP echo to logs).
 */
import { createSocket } from 'node:dgram';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GenericContainer, Wait } from '../../../src/testcontainers.js';
import { helperBuilt, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const IMAGE = 'cristianrgreco/testcontainer:1.1.14';
const UDP_IMAGE = 'mendhak/udp-listener';

function tlsGet(port: number, path: string): Promise<{ status: number; body: string; selfSigned: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      const selfSigned = cert.subject?.CN === 'localhost' && cert.issuer?.CN === 'localhost';
      let body = '';
      res.on('data', (d: Buffer) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, selfSigned }));
    });
    req.on('error', reject);
    req.end();
  });
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('testcontainers-node test images (stand-ins)', { timeout: 120_000 }, () => {
  const prefix = process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX;
  beforeAll(() => { process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = `${registry()}/`; });
  afterAll(() => {
    if (prefix === undefined) delete process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX;
    else process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = prefix;
  });

  it('cristianrgreco/testcontainer serves the routes its suite calls, over HTTP and self-signed HTTPS', async () => {
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8080, 8443).withEnvironment({ customKey: 'customValue' })
      .withWaitStrategy(Wait.forLogMessage('Listening on secure port 8443')).start();
    const url = `http://${c.getHost()}:${c.getMappedPort(8080)}`;
    const hello = await fetch(`${url}/hello-world`);
    expect([hello.status, await hello.text()]).toEqual([200, 'hello-world']);
    expect((await fetch(`${url}/hello-world-post`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${url}/hello-world`, { method: 'HEAD' })).status).toBe(200);
    expect(((await (await fetch(`${url}/env`)).json()) as Record<string, string>).customKey).toBe('customValue');
    expect(await (await fetch(`${url}/cmd`)).json()).toEqual(['/usr/local/bin/node', '/index.js']);
    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    expect((await fetch(`${url}/auth`, { headers: basic('user', 'pass') })).status).toBe(200);
    expect((await fetch(`${url}/auth`, { headers: basic('user', 'wrong') })).status).toBe(401);
    expect((await fetch(`${url}/header-or-400/custom`, { headers: { custom: 'value' } })).status).toBe(200);
    expect((await fetch(`${url}/header-or-400/custom`)).status).toBe(400);
    expect((await fetch(`${url}/unknown-path`)).status).toBe(404);
    expect(await tlsGet(c.getMappedPort(8443), '/hello-world')).toEqual({ status: 200, body: 'hello-world', selfSigned: true });
    // What the suite's execs rely on: user node, and the tools (curl, /usr/bin/wget, getpcaps, arch, ping, getent).
    expect((await c.exec(['whoami'], { user: 'node' })).stdout).toBe('node\n');
    const tools = await c.exec(['sh', '-c', 'command -v curl getpcaps arch ping getent awk stat find /usr/bin/wget && curl -fs localhost:8080/hello-world']);
    expect(tools).toMatchObject({ exitCode: 0 });
    expect(tools.stdout.endsWith('hello-world')).toBe(true);
  });

  it('mendhak/udp-listener logs that it listens on UDP 5005, then every datagram it gets', async () => {
    await using c = await new GenericContainer(UDP_IMAGE).withExposedPorts('5005/udp')
      .withWaitStrategy(Wait.forLogMessage('Listening on UDP port 5005')).start();
    const port = c.getMappedPort(5005, 'udp');
    await using socket = createSocket('udp4');
    const logs = await c.logs();
    let seen = '';
    for (let i = 0; i < 50 && !seen.includes('health_check'); i++) {
      socket.send('health_check', port, '127.0.0.1');
      seen += await new Promise<string>((resolve) => {
        const t = setTimeout(() => { logs.off('data', on); resolve(''); }, 100);
        const on = (d: Buffer) => { clearTimeout(t); logs.off('data', on); resolve(String(d)); };
        logs.on('data', on);
      });
    }
    logs.destroy();
    expect(seen).toContain('health_check\n');
  });
});

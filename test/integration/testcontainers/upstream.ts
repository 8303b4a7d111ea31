/**
 * What the ports of testcontainers-node's own tests (`*.upstream.test.ts` here) share: its images by their Docker Hub
 * names, served by the test registry through the hub prefix (scripts/fixtures/build.sh `testcontainer` stands in for
 * `cristianrgreco/testcontainer:1.1.14` and `mendhak/udp-listener`), and its test-helper checks, in our words.
 */
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { StartedTestContainer } from '../../../src/testcontainers.js';
import { helperBuilt, registry, userNamespacesAllowed } from '../harness/index.js';

export const IMAGE = 'cristianrgreco/testcontainer:1.1.14';
export const UDP_IMAGE = 'mendhak/udp-listener';
export const canRun = helperBuilt() && userNamespacesAllowed();
export const cannotRunReason = 'the native helper is not built or user namespaces are unavailable';

/** Inside a describe: Docker Hub names resolve to the test registry for this file's tests. */
export function useHubPrefix(): void {
  const prefix = process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX;
  beforeAll(() => { process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = `${registry()}/`; });
  afterAll(() => {
    if (prefix === undefined) delete process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX;
    else process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = prefix;
  });
}

/** GET /hello-world through the mapped 8080 answers 200. */
export async function expectHealthy(c: StartedTestContainer): Promise<void> {
  const res = await fetch(`http://${c.getHost()}:${c.getMappedPort(8080)}/hello-world`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('hello-world');
}

/** GET /hello-world over HTTPS through the mapped 8443 (self-signed, so not verified) answers 200. */
export function expectHealthyTls(c: StartedTestContainer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: c.getHost(), port: c.getMappedPort(8443), path: '/hello-world', rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => { try { expect(res.statusCode).toBe(200); resolve(); } catch (e) { reject(e); } });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends datagrams to the listener's first mapped port until its log shows one (its suite's UDP check). */
export async function expectUdpEcho(c: StartedTestContainer): Promise<void> {
  const message = `health_check_${process.pid}`;
  const socket = createSocket('udp4');
  const logs = await c.logs();
  let seen = '';
  logs.on('data', (d: Buffer | string) => { seen += String(d); });
  try {
    for (let i = 0; i < 50 && !seen.includes(message); i++) {
      socket.send(message, c.getFirstMappedPort(), c.getHost());
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    socket.close();
    logs.destroy();
  }
  expect(seen).toContain(`${message}\n`);
}

/** A temp file and a symlink to it; removed on dispose. */
export async function tempSymlinkedFile(content: string): Promise<{ source: string; symlink: string } & AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-tc-'));
  const source = join(dir, 'source.txt');
  const link = join(dir, 'symlink.txt');
  await writeFile(source, content);
  await symlink(source, link);
  return { source, symlink: link, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { parseWwwAuthenticate } from '../../../src/image/auth.js';
import { createCredentialResolver } from '../../../src/image/credentials.js';
import { RegistryClient, isLoopbackRegistry } from '../../../src/image/registry-client.js';
import { Agent } from 'undici';
import { FakeRegistry, faults, sha256 } from './helpers/fake-registry.js';
import { rejection as rejects } from './helpers/rejection.js';

const fast = { retries: 3, minTimeout: 10, maxTimeout: 50 };
const noCreds = async (): Promise<undefined> => undefined;
const regs: FakeRegistry[] = [];
const tmps: string[] = [];
afterEach(async () => {
  await Promise.all(regs.splice(0).map((r) => r.close()));
  await Promise.all(tmps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function reg(o?: ConstructorParameters<typeof FakeRegistry>[0]): Promise<FakeRegistry> {
  const r = await new FakeRegistry(o).start();
  regs.push(r);
  return r;
}
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'slipway-reg-'));
  tmps.push(d);
  return d;
}
async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

describe('parseWwwAuthenticate', () => {
  it('parses bearer and basic challenges', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
    expect(parseWwwAuthenticate('Basic realm="x y", Bearer realm=http://a/t')).toEqual([
      { scheme: 'basic', params: { realm: 'x y' } },
      { scheme: 'bearer', params: { realm: 'http://a/t' } },
    ]);
  });
});

describe('isLoopbackRegistry', () => {
  it.each([['localhost:5000', true], ['127.0.0.1:1', true], ['127.5.6.7', true], ['[::1]:5000', true], ['example.com:5000', false], ['10.0.0.1:5000', false], ['128.0.0.1', false]])('%s → %s', (d, v) => {
    expect(isLoopbackRegistry(d)).toBe(v);
  });
  it('uses https except for loopback and insecure hosts', () => {
    const c = new RegistryClient({ insecureRegistries: ['reg.internal:5000'], env: { SLIPWAY_INSECURE_REGISTRIES: 'a.b, c.d:1' }, credentials: noCreds });
    expect(c.baseUrl('docker.io')).toBe('https://registry-1.docker.io');
    expect(c.baseUrl('ghcr.io')).toBe('https://ghcr.io');
    expect(c.baseUrl('localhost:5000')).toBe('http://localhost:5000');
    expect(c.baseUrl('reg.internal:5000')).toBe('http://reg.internal:5000');
    expect(c.baseUrl('a.b')).toBe('http://a.b');
    expect(c.baseUrl('c.d:1')).toBe('http://c.d:1');
  });
});

describe('RegistryClient', () => {
  it('gets an anonymous bearer token once per scope and reuses it', async () => {
    const r = await reg({ auth: 'bearer' });
    r.putManifest('a/b', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const m = await c.getManifest(r.host, 'a/b', '1');
    expect(m.contentType).toBe('application/vnd.oci.image.manifest.v1+json');
    await c.getManifest(r.host, 'a/b', '1');
    expect(r.tokensIssued).toBe(1);
    const tokenReq = r.log.find((l) => l.path.startsWith('/token'))!;
    expect(tokenReq.path).toContain('scope=repository%3Aa%2Fb%3Apull');
    expect(tokenReq.path).toContain('service=fake');
    expect(tokenReq.headers.authorization).toBeUndefined();
  });

  it('refreshes an expired token', async () => {
    const r = await reg({ auth: 'bearer' });
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    // A registry that rejects the first token after one use.
    let uses = 0;
    r.hooks.push((req, res) => {
      if (req.headers.authorization === 'Bearer tok-1-repository:x:pull' && ++uses > 1) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${r.host}/token",service="fake"` }).end();
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    await c.getManifest(r.host, 'x', '1');
    await c.getManifest(r.host, 'x', '1');
    expect(r.tokensIssued).toBe(2);
  });

  it('sends credentials from a docker-credential helper to the token endpoint', async () => {
    const r = await reg({ auth: 'bearer', users: { alice: 's3cret' } });
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    const dir = await tmp();
    const bin = path.join(dir, 'bin');
    await import('node:fs/promises').then((f) => f.mkdir(bin));
    const helper = path.join(bin, 'docker-credential-fake');
    await writeFile(helper, `#!/bin/sh\nread url\necho "$url" > ${dir}/asked\nprintf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "$url"\n`);
    await chmod(helper, 0o755);
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ credHelpers: { [r.host]: 'fake' } }));
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: dir, HOME: dir };
    const oldPath = process.env.PATH;
    process.env.PATH = env.PATH;
    try {
      const c = new RegistryClient({ credentials: createCredentialResolver({ env }), retry: fast });
      await c.getManifest(r.host, 'x', '1');
    } finally {
      process.env.PATH = oldPath;
    }
    const tokenReq = r.log.find((l) => l.path.startsWith('/token'))!;
    expect(tokenReq.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect((await import('node:fs/promises').then((f) => f.readFile(path.join(dir, 'asked'), 'utf8'))).trim()).toBe(r.host);
  });

  it('reports a clear auth error when the token endpoint refuses', async () => {
    const r = await reg({ auth: 'bearer', users: { alice: 'x' } });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_AUTH');
    expect(e.message).toMatch(/anonymously/);
  });

  it('a 401 without credentials names the manifest once, the status and what to do', async () => {
    const r = await reg({ auth: 'basic', users: { bob: 'pw' } });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const e = await rejects(c.getManifest(r.host, 'redsi', '7'));
    expect(e.code).toBe('ERR_REGISTRY_AUTH');
    // Was `manifest <host>/redsi:7: manifest <host>/redsi:7: HTTP 401 from <host>`.
    expect(e.shortMessage).toBe(`manifest ${r.host}/redsi:7: HTTP 401 from ${r.host}`);
    expect(e.hint).toMatch(/docker login/);
  });

  it('uses Basic auth from auth.json', async () => {
    const r = await reg({ auth: 'basic', users: { bob: 'pw' } });
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    const dir = await tmp();
    const authFile = path.join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [r.host]: { auth: Buffer.from('bob:pw').toString('base64') } } }));
    const c = new RegistryClient({ credentials: createCredentialResolver({ env: { HOME: dir, REGISTRY_AUTH_FILE: authFile } }), retry: fast });
    const m = await c.getManifest(r.host, 'x', '1');
    expect(JSON.parse(m.body.toString())).toEqual({ schemaVersion: 2 });
  });

  it('follows a blob redirect to another host without forwarding Authorization', async () => {
    const r = await reg({ auth: 'bearer' });
    const cdn = await reg();
    const blob = Buffer.from('hello layer');
    const d = cdn.putBlob(blob);
    r.hooks.push((req, res) => {
      if (req.url?.includes('/blobs/') && req.headers.authorization) {
        res.writeHead(307, { location: `http://localhost:${cdn.port}/v2/x/blobs/${d}?sig=1` }).end();
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    expect(await collect(c.blobStream(r.host, 'x', d, blob.length))).toEqual(blob);
    const hop = cdn.log.find((l) => l.path.includes('/blobs/'))!;
    expect(hop.path).toContain('sig=1');
    expect(hop.headers.authorization).toBeUndefined();
    expect(r.log.some((l) => l.path.includes('/blobs/') && l.headers.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('honours 429 Retry-After', async () => {
    const r = await reg();
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    let n = 0;
    r.hooks.push((req, res) => {
      if (req.url?.includes('/manifests/') && n++ === 0) {
        res.writeHead(429, { 'retry-after': '1' }).end();
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const t0 = Date.now();
    await c.getManifest(r.host, 'x', '1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(r.log.filter((l) => l.path.includes('/manifests/')).length).toBe(2);
  });

  it('gives up on persistent 429 with a rate-limit error', async () => {
    const r = await reg();
    r.hooks.push((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(429).end();
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.message).toMatch(/rate limited/);
    expect(r.log.filter((l) => l.path.includes('/manifests/')).length).toBe(4);
  });

  it.each([true, false])('resumes a truncated blob stream (server Range support: %s)', async (range) => {
    const r = await reg({ range });
    const blob = Buffer.alloc(300_000, 7);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31) & 0xff;
    const d = r.putBlob(blob);
    let n = 0;
    r.hooks.push((req, res) => {
      if (req.url?.includes('/blobs/') && n++ === 0) {
        res.writeHead(200, { 'content-length': blob.length });
        res.write(blob.subarray(0, 100_000), () => res.destroy());
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const got = await collect(c.blobStream(r.host, 'x', d, blob.length));
    expect(sha256(got)).toBe(d);
    const second = r.log.filter((l) => l.path.includes('/blobs/'))[1]!;
    expect(second.headers.range).toBe('bytes=100000-');
  });

  it('rejects a manifest whose body does not match the digest asked for', async () => {
    const r = await reg();
    const wrong = `sha256:${'1'.repeat(64)}`;
    r.manifests.set(`x:${wrong}`, { body: Buffer.from('{"schemaVersion":2}'), contentType: 'application/vnd.oci.image.manifest.v1+json' });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    expect((await rejects(c.getManifest(r.host, 'x', wrong))).code).toBe('ERR_DIGEST_MISMATCH');
  });

  it('rejects a manifest that contradicts Docker-Content-Digest', async () => {
    const r = await reg();
    r.hooks.push((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': `sha256:${'2'.repeat(64)}` }).end('{}');
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    expect((await rejects(c.getManifest(r.host, 'x', 'latest'))).code).toBe('ERR_DIGEST_MISMATCH');
  });

  it('refuses oversized manifests, with and without Content-Length', async () => {
    const r = await reg();
    const big = Buffer.alloc(2048, 0x20);
    r.putManifest('x', ['1'], big, 'application/vnd.oci.image.manifest.v1+json');
    r.hooks.push((req, res) => {
      if (req.url?.endsWith('/manifests/chunked')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(big);
        res.end(big);
        return true;
      }
      return false;
    });
    const c = new RegistryClient({ credentials: noCreds, retry: fast, maxManifestBytes: 1024 });
    expect((await rejects(c.getManifest(r.host, 'x', '1'))).code).toBe('ERR_TOO_LARGE');
    expect((await rejects(c.getManifest(r.host, 'x', 'chunked'))).code).toBe('ERR_TOO_LARGE');
  });

  it('maps 404 to ERR_IMAGE_NOT_FOUND without retrying', async () => {
    const r = await reg();
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    expect((await rejects(c.getManifest(r.host, 'nope', '1'))).code).toBe('ERR_IMAGE_NOT_FOUND');
    expect(r.log.filter((l) => l.path.includes('/manifests/')).length).toBe(1);
  });

  it('reports an unreachable registry', async () => {
    const r = await reg();
    const host = r.host;
    await r.close();
    regs.splice(regs.indexOf(r), 1);
    const c = new RegistryClient({ credentials: noCreds, retry: { retries: 3, minTimeout: 2000, maxTimeout: 2000 } });
    const t0 = Date.now();
    const e = await rejects(c.getManifest(host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_UNREACHABLE');
    expect(e.message).toContain(host);
    expect(Date.now() - t0).toBeLessThan(1500); // connection refused is not retried

  });
});

describe('RegistryClient: time limits and failure hints', () => {
  const limits = { connect: 2000, headers: 300, body: 300 };
  const blobOf = (r: FakeRegistry) => (req: { url?: string }): Buffer | undefined => r.bodyOf(req as Parameters<FakeRegistry['bodyOf']>[0]);

  it('gives up on a registry that accepts and never answers, naming the host and the headers phase', async () => {
    const r = await reg();
    r.hooks.push(faults.silent('/v2/'));
    const c = new RegistryClient({ credentials: noCreds, retry: fast, timeouts: limits });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect(e.message).toContain(`registry ${r.host} sent no response headers within 300 ms`);
    expect(e.hint).toContain('SLIPWAY_REGISTRY_HEADERS_TIMEOUT');
    expect((e.cause as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    // Not retried: every retry would wait the whole limit again.
    expect(r.log.filter((l) => l.path === '/v2/').length).toBe(1);
  });

  it('bounds the token request too, naming the token endpoint', async () => {
    const r = await reg({ auth: 'bearer' });
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    r.hooks.push(faults.silent('/token'));
    const c = new RegistryClient({ credentials: noCreds, retry: fast, timeouts: limits });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect(e.message).toContain(`token endpoint http://${r.host}/token: registry ${r.host} sent no response headers within 300 ms`);
    expect(r.log.filter((l) => l.path.startsWith('/token')).length).toBe(1);
  });

  it('takes the limits from the environment', async () => {
    const r = await reg();
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    r.hooks.push(faults.silent('/manifests/'));
    const c = new RegistryClient({ credentials: noCreds, retry: fast, env: { SLIPWAY_REGISTRY_HEADERS_TIMEOUT: '250' } });
    expect(c.timeouts).toEqual({ connect: 15_000, headers: 250, body: 30_000 });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect(e.message).toMatch(/manifest .*x:1: registry .* sent no response headers within 250 ms/);
    expect(() => new RegistryClient({ env: { SLIPWAY_REGISTRY_BODY_TIMEOUT: 'soon' } })).toThrow(/ERR_INVALID_ARGUMENT: invalid SLIPWAY_REGISTRY_BODY_TIMEOUT/);
  });

  it('gives up on a blob that trickles, after retrying, naming the body phase', async () => {
    const r = await reg();
    const blob = Buffer.alloc(100_000, 3);
    const d = r.putBlob(blob);
    r.hooks.push(faults.trickle('/blobs/', blobOf(r), 20));
    const c = new RegistryClient({ credentials: noCreds, retry: fast, timeouts: limits });
    const e = await rejects(collect(c.blobStream(r.host, 'x', d, blob.length)));
    expect(e.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect(e.message).toContain(`registry ${r.host} stalled while sending the body (less than 1024 bytes in 300 ms)`);
    expect(e.hint).toContain('SLIPWAY_REGISTRY_BODY_TIMEOUT');
    expect((e.cause as { code?: string }).code).toBe('SLIPWAY_BODY_STALL');
    // The second attempt resumed where the first stalled; a second stall in a row ends it (3 retries were allowed).
    const fetches = r.log.filter((l) => l.path.includes('/blobs/'));
    expect(fetches).toHaveLength(2);
    expect(fetches[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('gives up on a manifest body that goes silent or trickles', async () => {
    const r = await reg();
    r.putManifest('x', ['silent', 'slow'], { schemaVersion: 2, pad: 'x'.repeat(4000) }, 'application/vnd.oci.image.manifest.v1+json');
    r.hooks.push(faults.trickle('/manifests/silent', blobOf(r), Infinity), faults.trickle('/manifests/slow', blobOf(r), 20));
    const c = new RegistryClient({ credentials: noCreds, retry: { retries: 0 }, timeouts: limits });
    const silent = await rejects(c.getManifest(r.host, 'x', 'silent'));
    expect(silent.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect((silent.cause as { code?: string }).code).toBe('UND_ERR_BODY_TIMEOUT');
    const slow = await rejects(new RegistryClient({ credentials: noCreds, retry: fast, timeouts: limits }).getManifest(r.host, 'x', 'slow'));
    expect(slow.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect(slow.message).toContain('stalled while sending the body');
    expect(r.log.filter((l) => l.path.endsWith('/manifests/slow')).length).toBe(2);
  });

  it('explains a registry that keeps answering 500', async () => {
    const r = await reg();
    r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    r.hooks.push(faults.status('/manifests/', 500));
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY');
    expect(e.message).toContain(`registry ${r.host} answered HTTP 500 (a server error) on 4 attempts`);
    expect(e.hint).toMatch(/retry later.*SLIPWAY_REGISTRY_MIRROR/);
    expect((e.cause as { statusCode?: number }).statusCode).toBe(500);
    expect(r.log.filter((l) => l.path.includes('/manifests/')).length).toBe(4);
  });

  it('reports a truncated blob as cut short, without suggesting an insecure registry', async () => {
    const r = await reg();
    const blob = Buffer.alloc(200_000, 9);
    const d = r.putBlob(blob);
    r.hooks.push(faults.truncate('/blobs/', blobOf(r), 50_000));
    const c = new RegistryClient({ credentials: noCreds, retry: { retries: 1, minTimeout: 10, maxTimeout: 10 } });
    const e = await rejects(collect(c.blobStream(r.host, 'x', d, blob.length)));
    expect(e.code).toBe('ERR_REGISTRY');
    expect(e.message).toMatch(new RegExp(`registry ${r.host} cut the transfer short: .*of 200000 bytes \\(2 attempts\\)`));
    expect(e.hint).not.toContain('INSECURE');
    expect(e.hint).toContain('closed the connection mid-body');
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('reports a manifest shorter than its Content-Length as cut short', async () => {
    const r = await reg();
    r.putManifest('x', ['1'], { schemaVersion: 2, pad: 'y'.repeat(3000) }, 'application/vnd.oci.image.manifest.v1+json');
    r.hooks.push(faults.truncate('/manifests/', blobOf(r), 100));
    const c = new RegistryClient({ credentials: noCreds, retry: fast });
    const e = await rejects(c.getManifest(r.host, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY');
    expect(e.message).toContain('cut the transfer short');
    expect(e.hint).not.toContain('INSECURE');
  });

  it('suggests SLIPWAY_INSECURE_REGISTRIES only when TLS fails against a plain-HTTP registry', async () => {
    const r = await reg();
    // A non-loopback name (spoken to over https) that resolves to the fake registry's plain-HTTP port.
    const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void): void => {
      if (o.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    };
    const c = new RegistryClient({ credentials: noCreds, retry: fast, dispatcher: new Agent({ connect: { lookup } as never }) });
    const domain = `registry.invalid:${r.port}`;
    const e = await rejects(c.getManifest(domain, 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_UNREACHABLE');
    expect(e.message).toContain(`TLS with ${domain} failed`);
    expect(e.hint).toContain(`if ${domain} serves plain HTTP, list it in SLIPWAY_INSECURE_REGISTRIES`);
  });
});

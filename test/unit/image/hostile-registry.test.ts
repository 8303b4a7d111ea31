/**
 * A registry (or a host it redirects to) that plays the attacker. Every server here listens on 127.0.0.1: a test
 * that wants another host stands one up on another loopback port, or answers from undici's MockAgent with every
 * real connection refused.
 */
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/image/registry-client.js';
import { FakeRegistry } from './helpers/fake-registry.js';
import { rejection } from './helpers/rejection.js';

const fast = { retries: 2, minTimeout: 10, maxTimeout: 50 };
const regs: FakeRegistry[] = [];
afterEach(async () => {
  await Promise.all(regs.splice(0).map((r) => r.close()));
});
async function reg(o?: ConstructorParameters<typeof FakeRegistry>[0]): Promise<FakeRegistry> {
  const r = await new FakeRegistry(o).start();
  regs.push(r);
  return r;
}
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('a hostile host behind a redirect', () => {
  it('never gets the registry\'s credentials through a challenge of its own', async () => {
    const r = await reg({ auth: 'basic', users: { alice: 's3cret' } });
    const cdn = await reg();
    const thief = await reg();
    const blob = Buffer.from('layer bytes');
    const d = r.putBlob(blob);
    // The registry sends the blob to a CDN; the CDN answers 401 naming a token endpoint of its choosing.
    r.hooks.push((req, res) => {
      if (!req.url?.includes('/blobs/') || !req.headers.authorization) return false;
      res.writeHead(307, { location: `http://127.0.0.1:${cdn.port}/v2/x/blobs/${d}` }).end();
      return true;
    });
    cdn.hooks.push((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${thief.host}/token",service="x"` }).end();
      return true;
    });
    const creds = async (domain: string): Promise<{ username: string; password: string } | undefined> =>
      (domain === r.host ? { username: 'alice', password: 's3cret' } : undefined);
    const c = new RegistryClient({ credentials: creds, retry: fast });
    const e = await rejection((async () => {
      for await (const _ of c.blobStream(r.host, 'x', d, blob.length)) { /* drain */ }
    })());
    expect(e.code).toBe('ERR_REGISTRY_AUTH');
    expect(e.message).toContain(`127.0.0.1:${cdn.port}`);
    expect(thief.log).toEqual([]);
    // The registry's own challenge is untouched: a later request still authenticates with it.
    r.hooks = [];
    const m = r.putManifest('x', ['1'], { schemaVersion: 2 }, 'application/vnd.oci.image.manifest.v1+json');
    expect((await c.getManifest(r.host, 'x', '1')).digest).toBe(m);
    expect(r.log.filter((l) => l.path.includes('/manifests/')).at(-1)!.headers.authorization).toBe(basic('alice', 's3cret'));
    expect(thief.log).toEqual([]);
  });
});

describe('a token endpoint in clear text', () => {
  /** An HTTPS registry whose challenge names a plain-HTTP token endpoint on another host; nothing connects for real. */
  function downgrading(): { agent: MockAgent; tokenRequests: () => number } {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const registry = agent.get('https://registry.test');
    const challenge = { 'www-authenticate': 'Bearer realm="http://auth.test/token",service="registry.test"' };
    registry.intercept({ path: '/v2/', method: 'GET' }).reply(401, '', { headers: challenge }).persist();
    registry.intercept({ path: '/v2/x/manifests/1', method: 'GET' }).reply((o) => {
      const ok = o.headers && (o.headers as Record<string, string>).authorization === 'Bearer anon';
      return ok
        ? { statusCode: 200, data: '{"schemaVersion":2}', responseOptions: { headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } } }
        : { statusCode: 401, data: '', responseOptions: { headers: challenge } };
    }).persist();
    let n = 0;
    agent.get('http://auth.test').intercept({ path: /^\/token/, method: 'GET' }).reply(() => {
      n++;
      return { statusCode: 200, data: '{"token":"anon"}' };
    }).persist();
    return { agent, tokenRequests: () => n };
  }

  it('gets no credentials when the registry is HTTPS', async () => {
    const { agent, tokenRequests } = downgrading();
    const c = new RegistryClient({ dispatcher: agent, retry: fast, env: {}, credentials: async () => ({ username: 'alice', password: 's3cret' }) });
    const e = await rejection(c.getManifest('registry.test', 'x', '1'));
    expect(e.code).toBe('ERR_REGISTRY_AUTH');
    expect(e.message).toContain('http://auth.test/token');
    expect(e.hint).toContain('SLIPWAY_INSECURE_REGISTRIES');
    expect(tokenRequests()).toBe(0);
    await agent.close();
  });

  it('still serves an anonymous pull, and one the user marked insecure', async () => {
    const anon = downgrading();
    const c = new RegistryClient({ dispatcher: anon.agent, retry: fast, env: {}, credentials: async () => undefined });
    expect(JSON.parse((await c.getManifest('registry.test', 'x', '1')).body.toString())).toEqual({ schemaVersion: 2 });
    expect(anon.tokenRequests()).toBe(1);
    await anon.agent.close();
    const marked = downgrading();
    const m = new RegistryClient({ dispatcher: marked.agent, retry: fast, env: {}, insecureRegistries: ['auth.test'], credentials: async () => ({ username: 'alice', password: 's3cret' }) });
    expect(JSON.parse((await m.getManifest('registry.test', 'x', '1')).body.toString())).toEqual({ schemaVersion: 2 });
    expect(marked.tokenRequests()).toBe(1);
    await marked.agent.close();
  });
});

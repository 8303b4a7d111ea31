// pull() under the configuration: mirrors, Hub prefix and pull policy from the environment or a config file, the store
// keyed by the reference after the prefix (what `slipway images` lists), and an unreachable registry's error naming
// the mirror and prefix settings. Docker Hub is made unreachable by a resolver that fails every name: nothing leaves
// this machine.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listStoredImages } from '../../../src/cli/store-commands.js';
import { SlipwayError } from '../../../src/errors.js';
import { createCredentialResolver } from '../../../src/image/credentials.js';
import { pull, type PullOptions } from '../../../src/image/pull.js';
import { FakeRegistry, makeLayer, pushImage } from './helpers/fake-registry.js';
import { rejection } from './helpers/rejection.js';

const regs: FakeRegistry[] = [];
const tmps: string[] = [];
afterEach(async () => {
  await Promise.all(regs.splice(0).map((r) => r.close()));
  await Promise.all(tmps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'slipway-pullcfg-'));
  tmps.push(d);
  return d;
}
async function registryWithRedis(): Promise<FakeRegistry> {
  const r = await new FakeRegistry().start();
  regs.push(r);
  const layers = [await makeLayer([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=fake\n' }])];
  pushImage(r, { repo: 'library/redis', tags: ['7'], layers });
  pushImage(r, { repo: 'hub/redis', tags: ['7'], layers });
  return r;
}
/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
const noName = (host: string, _o: unknown, cb: (e: Error) => void): void => {
  cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host }));
};
async function opts(env: NodeJS.ProcessEnv, extra: PullOptions = {}): Promise<PullOptions> {
  const home = await tmp();
  return {
    storeDir: await tmp(), env: { HOME: home, ...env },
    registry: { credentials: async () => undefined, retry: { retries: 0, minTimeout: 1, maxTimeout: 1 }, dispatcher: new Agent({ connect: { lookup: noName } as never }) },
    ...extra,
  };
}

describe('pull and the configuration', () => {
  it('an unreachable Docker Hub names the mirror and prefix settings with an example', async () => {
    const e = await rejection(pull('redis:7', await opts({})));
    expect(e.code).toBe('ERR_REGISTRY_UNREACHABLE');
    expect(e.hint).toContain('Docker Hub could not be reached and no registry mirror is set');
    expect(e.hint).toContain('SLIPWAY_REGISTRY_MIRROR=mirror.gcr.io');
    expect(e.hint).toContain('{"registryMirrors": ["mirror.gcr.io"]} in slipway.config.json');
    expect(e.hint).toContain('SLIPWAY_HUB_IMAGE_NAME_PREFIX=registry.example.com/dockerhub');
    expect(e.hint).toContain('TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX');
  });

  it('after a mirror that failed too, names the mirror, its error and where it was set', async () => {
    const port = await closedPort();
    const e = await rejection(pull('redis:7', await opts({ SLIPWAY_REGISTRY_MIRROR: `http://127.0.0.1:${port}` })));
    expect(e.code).toBe('ERR_REGISTRY_UNREACHABLE');
    expect(e.shortMessage).toContain(`mirrors tried first: mirror 127.0.0.1:${port}:`);
    expect(e.hint).toContain(`registryMirrors is ["http://127.0.0.1:${port}"] (from env SLIPWAY_REGISTRY_MIRROR)`);
  });

  it('an unreachable prefix registry names the prefix and the file that set it', async () => {
    const port = await closedPort();
    const dir = await tmp();
    const file = path.join(dir, 'slipway.config.json');
    await writeFile(file, JSON.stringify({ hubImageNamePrefix: `127.0.0.1:${port}/hub` }));
    const e = await rejection(pull('redis:7', await opts({ SLIPWAY_CONFIG: file })));
    expect(e.code).toBe('ERR_REGISTRY_UNREACHABLE');
    expect(e.hint).toContain(`127.0.0.1:${port} is the hubImageNamePrefix "127.0.0.1:${port}/hub" (from ${file})`);
  });

  it('tries the mirrors in order, then keys the store by the Hub reference and records the mirror pulled from', async () => {
    const r = await registryWithRedis();
    const dead = await closedPort();
    const dir = await tmp();
    const file = path.join(dir, 'slipway.config.json');
    await writeFile(file, JSON.stringify({ registryMirrors: [`http://127.0.0.1:${dead}`, `http://${r.host}`] }));
    const o = await opts({ SLIPWAY_CONFIG: file });
    const img = await pull('redis:7', o);
    expect(img.source).toBe('mirror');
    expect(img.pulledFrom).toBe(`${r.host}/library/redis:7`);
    const [listed] = await listStoredImages(o.storeDir!);
    expect(listed).toMatchObject({ ref: 'docker.io/library/redis:7', pulledFrom: `${r.host}/library/redis:7` });
    // What `images` lists is what `--pull never` finds, without the mirror.
    const again = await pull(listed!.ref, { ...o, env: { HOME: o.env!.HOME }, policy: 'never' });
    expect(again.source).toBe('cache');
  });

  it('keys the store by the reference after the Hub prefix, so the listed reference is found with policy never', async () => {
    const r = await registryWithRedis();
    const o = await opts({ TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: `${r.host}/hub` });
    const img = await pull('redis:7', o);
    expect(img.pulledFrom).toBe(`${r.host}/hub/redis:7`);
    const [listed] = await listStoredImages(o.storeDir!);
    expect(listed!.ref).toBe(`${r.host}/hub/redis:7`);
    const bare = { ...o, env: { HOME: o.env!.HOME } };
    expect((await pull(listed!.ref, { ...bare, policy: 'never' })).source).toBe('cache');
    // With the prefix still set, the short name finds it too; without it, `redis:7` means Docker Hub's, which is absent.
    expect((await pull('redis:7', { ...o, policy: 'never' })).source).toBe('cache');
    const absent = await rejection(pull('redis:7', { ...bare, policy: 'never' }));
    expect(absent.code).toBe('ERR_IMAGE_NOT_PRESENT');
  });

  it('takes the default pull policy from the configuration', async () => {
    const e = await rejection(pull('redis:7', await opts({ SLIPWAY_PULL_POLICY: 'never' })));
    expect(e.code).toBe('ERR_IMAGE_NOT_PRESENT');
  });

  it('a bad config file fails the pull with ERR_CONFIG naming the file and key', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'slipway.config.json');
    await writeFile(file, JSON.stringify({ pullPolicy: 'sometimes' }));
    const e = await rejection(pull('redis:7', await opts({ SLIPWAY_CONFIG: file })));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.shortMessage).toContain(`${file}: pullPolicy is "sometimes"`);
  });

  it('asks the configured credential helper before the Docker config', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: { 'registry.corp': { auth: Buffer.from('u:p').toString('base64') } } }));
    const resolve = createCredentialResolver({ dockerConfigDir: dir, authFiles: [], env: {}, helpers: { 'registry.corp': 'slipway-test-absent' } });
    const e = await rejection(resolve('registry.corp'));
    expect(e.code).toBe('ERR_REGISTRY_AUTH');
    expect(e.shortMessage).toContain('docker-credential-slipway-test-absent could not be run');
    const other = createCredentialResolver({ dockerConfigDir: dir, authFiles: [], env: {} });
    expect(await other('registry.corp')).toEqual({ username: 'u', password: 'p' });
  });
});

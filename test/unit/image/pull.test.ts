import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, lstat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pack as tarPack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { pull, type PullOptions, type PullProgress } from '../../../src/image/pull.js';
import { FakeRegistry, faults, hostArch, makeLayer, pushImage, sha256, type BuiltLayer } from './helpers/fake-registry.js';
import { rejection } from './helpers/rejection.js';

const regs: FakeRegistry[] = [];
const tmps: string[] = [];
afterEach(async () => {
  await Promise.all(regs.splice(0).map((r) => r.close()));
  await Promise.all(tmps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'slipway-pull-'));
  tmps.push(d);
  return d;
}
async function reg(o?: ConstructorParameters<typeof FakeRegistry>[0]): Promise<FakeRegistry> {
  const r = await new FakeRegistry(o).start();
  regs.push(r);
  return r;
}
const noCreds = async (): Promise<undefined> => undefined;
async function opts(extra: PullOptions = {}): Promise<PullOptions> {
  return { storeDir: await tmp(), registry: { credentials: noCreds, retry: { retries: 2, minTimeout: 5, maxTimeout: 10 } }, env: {}, ...extra };
}

async function twoLayers(): Promise<[BuiltLayer, BuiltLayer]> {
  const base = await makeLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'ID=fake\n' },
    { name: 'etc/motd', content: 'hello\n' },
    { name: 'usr/bin/app', content: Buffer.alloc(200_000, 1), mode: 0o755 },
  ]);
  const top = await makeLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd', content: '' },
    { name: 'data/', type: 'directory', uid: 999, gid: 999, mode: 0o700 },
  ], 'none');
  return [base, top];
}

describe('pull from a registry', () => {
  it('pulls, unpacks, reports progress and then works offline from the cache', async () => {
    const r = await reg({ auth: 'bearer' });
    const layers = await twoLayers();
    const { digest } = pushImage(r, { repo: 'team/app', tags: ['1.0'], layers, config: { Entrypoint: ['/usr/bin/app'], Cmd: ['--serve'], ExposedPorts: { '8080/tcp': {} }, User: '999', WorkingDir: '/data', StopSignal: 'SIGINT', Labels: { a: 'b' } } });
    const o = await opts();
    const events: PullProgress[] = [];
    const owners: string[] = [];
    const img = await pull(`${r.host}/team/app:1.0`, {
      ...o,
      onProgress: (e) => events.push(e),
      applyOwnership: async (_dir, list) => {
        owners.push(await readFile(list, 'utf8'));
      },
    });
    expect(img.ref).toBe(`${r.host}/team/app:1.0`);
    expect(img.digest).toBe(digest);
    expect(img.source).toBe('registry');
    expect(img.config).toMatchObject({ Entrypoint: ['/usr/bin/app'], Cmd: ['--serve'], User: '999', WorkingDir: '/data', StopSignal: 'SIGINT', Labels: { a: 'b' }, ExposedPorts: { '8080/tcp': {} } });
    expect(img.layers.map((l) => l.diffId)).toEqual(layers.map((l) => l.diffId));
    expect(img.layers[0]!.chainId).toBe(layers[0].diffId);
    const [d0, d1] = img.layers.map((l) => l.dir!);
    expect(await readFile(path.join(d0!, 'etc/os-release'), 'utf8')).toBe('ID=fake\n');
    expect((await lstat(path.join(d1!, 'etc/motd'))).isCharacterDevice()).toBe(true);
    expect(owners.join('')).toContain('data\u0000999\u0000999\u0000700\u0000');
    // Blobs are kept in the OCI-like store.
    expect(await readdir(path.join(o.storeDir!, 'blobs/sha256'))).toEqual(expect.arrayContaining(layers.map((l) => l.digest.slice(7))));
    expect(await readdir(path.join(o.storeDir!, 'tmp'))).toEqual([]);
    const last = events.filter((e) => e.layer === layers[0].digest).at(-1)!;
    expect(last).toEqual({ layer: layers[0].digest, current: layers[0].blob.length, total: layers[0].blob.length });

    await r.close();
    regs.splice(0);
    const again = await pull(`${r.host}/team/app:1.0`, o);
    expect(again.source).toBe('cache');
    expect(again.layers.map((l) => l.dir)).toEqual([d0, d1]);
    const never = await pull(`${r.host}/team/app:1.0`, { ...o, policy: 'never' });
    expect(never.digest).toBe(digest);
  });

  it('re-unpacks from stored blobs for another id mapping, offline', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    const o = await opts();
    await pull(`${r.host}/x`, o);
    await r.close();
    regs.splice(0);
    const img = await pull(`${r.host}/x`, { ...o, mappingKey: 'other', policy: 'never' });
    expect(img.layers[0]!.dir).toContain(`${path.sep}other${path.sep}`);
    expect(await readFile(path.join(img.layers[0]!.dir!, 'etc/motd'), 'utf8')).toBe('hello\n');
  });

  it('refetches a layer whose stored blob is corrupt instead of trusting it', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    const o = await opts();
    const first = await pull(`${r.host}/x`, o);
    await rm(first.layers[0]!.dir!, { recursive: true });
    const blobFile = path.join(o.storeDir!, 'blobs/sha256', layers[0].digest.slice(7));
    const bytes = await readFile(blobFile);
    bytes[bytes.length - 10]! ^= 0xff;
    await writeFile(blobFile, bytes);
    expect((await rejection(pull(`${r.host}/x`, { ...o, policy: 'never' }))).code).toBe('ERR_IMAGE_NOT_PRESENT');
    const again = await pull(`${r.host}/x`, o);
    expect(again.source).toBe('registry');
    expect(await readFile(path.join(again.layers[0]!.dir!, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(r.blobFetches(layers[0].digest)).toBe(2);
    expect(await readFile(blobFile)).toEqual(layers[0].blob);
  });

  it('survives a cut connection mid-layer by resuming with Range', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    let cut = 0;
    r.hooks.push((req, res) => {
      if (req.url?.endsWith(`/blobs/${layers[0].digest}`) && cut++ === 0) {
        const blob = r.blobs.get(layers[0].digest)!;
        res.writeHead(200, { 'content-length': blob.length });
        res.write(blob.subarray(0, 200), () => res.destroy());
        return true;
      }
      return false;
    });
    const img = await pull(`${r.host}/x`, await opts());
    expect(await readFile(path.join(img.layers[0]!.dir!, 'etc/os-release'), 'utf8')).toBe('ID=fake\n');
    const fetches = r.log.filter((l) => l.path.endsWith(`/blobs/${layers[0].digest}`));
    expect(layers[0].blob.length).toBeGreaterThan(200);
    expect(fetches.map((f) => f.headers.range)).toEqual([undefined, 'bytes=200-']);
  });

  it('fails clearly with policy never when the image is absent', async () => {
    const e = await rejection(pull('localhost:1/nothing:here', { ...(await opts()), policy: 'never' }));
    expect(e.code).toBe('ERR_IMAGE_NOT_PRESENT');
    expect(e.message).toContain('localhost:1/nothing:here');
  });

  it('re-resolves with policy always', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    const o = await opts();
    await pull(`${r.host}/x`, o);
    const n = r.log.filter((l) => l.path.includes('/manifests/')).length;
    const img = await pull(`${r.host}/x`, { ...o, policy: 'always' });
    expect(img.source).toBe('registry');
    expect(r.log.filter((l) => l.path.includes('/manifests/')).length).toBe(n + 1);
    expect(r.log.filter((l) => l.path.includes('/blobs/')).length).toBe(3); // config + 2 layers, once
  });

  it('selects the platform from an index, skipping attestations, and pulls by digest', async () => {
    const r = await reg();
    const layers = await twoLayers();
    const amd = pushImage(r, { repo: 'multi', tags: [], layers, platform: { os: 'linux', architecture: hostArch() } });
    const armLayer = await makeLayer([{ name: 'arm', content: 'arm' }]);
    const arm = pushImage(r, { repo: 'multi', tags: [], layers: [armLayer], platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
    const index = {
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.digest, size: amd.manifest.length, platform: { os: 'linux', architecture: hostArch() } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm.digest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.digest, size: amd.manifest.length, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      ],
    };
    const idx = r.putManifest('multi', ['latest'], index, 'application/vnd.oci.image.index.v1+json');
    const o = await opts();
    const host = await pull(`${r.host}/multi`, o);
    expect(host.digest).toBe(idx);
    expect(host.manifestDigest).toBe(amd.digest);
    const armImg = await pull(`${r.host}/multi@${idx}`, { ...o, platform: 'linux/arm/v7' });
    expect(armImg.manifestDigest).toBe(arm.digest);
    expect(await readFile(path.join(armImg.layers[0]!.dir!, 'arm'), 'utf8')).toBe('arm');
    const e = await rejection(pull(`${r.host}/multi`, { ...o, platform: 'linux/s390x' }));
    expect(e.code).toBe('ERR_PLATFORM_NOT_FOUND');
    expect(e.message).toContain(`linux/${hostArch()}`);
    expect(e.message).toContain('linux/arm/v7');
    expect(e.message).not.toContain('unknown');
  });

  it('discards a layer whose blob does not match its digest and keeps nothing', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    const evil = await makeLayer([{ name: 'etc/os-release', content: 'ID=evil\n' }]);
    const good = layers[0].blob;
    r.blobs.set(layers[0].digest, Buffer.concat([evil.blob, Buffer.alloc(Math.max(0, good.length - evil.blob.length))]).subarray(0, good.length));
    const o = await opts();
    const e = await rejection(pull(`${r.host}/x`, o));
    expect(['ERR_DIGEST_MISMATCH', 'ERR_UNPACK']).toContain(e.code);
    const store = o.storeDir!;
    expect(await readdir(path.join(store, 'tmp'))).toEqual([]);
    expect(await readdir(path.join(store, 'blobs/sha256'))).not.toContain(layers[0].digest.slice(7));
    const layerRoot = path.join(store, 'layers', 'root');
    const present = await readdir(layerRoot).catch(() => []);
    expect(present).not.toContain(layers[0].diffId.slice(7));
    // Nothing trusted: policy never still finds nothing.
    expect((await rejection(pull(`${r.host}/x`, { ...o, policy: 'never' }))).code).toBe('ERR_IMAGE_NOT_PRESENT');
  });

  it('a download resumed after a cut is checked whole: other bytes after the cut are ERR_DIGEST_MISMATCH, nothing kept', async () => {
    // An uncompressed layer, so that other content after the cut is still a valid tar and only the digest tells. The
    // registry sends the true first 600 bytes (header and the file's start), cuts, then answers the Range request
    // with the rest of the file changed.
    const r = await reg({ range: true });
    const layer = await makeLayer([{ name: 'etc/motd', content: 'A'.repeat(4096) }], 'none');
    pushImage(r, { repo: 'x', layers: [layer] });
    const good = layer.blob;
    const evil = Buffer.from(good.toString('latin1').replace(/A{4096}/, 'A'.repeat(88) + 'B'.repeat(4008)), 'latin1');
    expect(evil.length).toBe(good.length);
    let n = 0;
    r.hooks.push((req, res) => {
      if (!req.url?.endsWith(`/blobs/${layer.digest}`)) return false;
      if (n++ === 0) {
        res.writeHead(200, { 'content-length': good.length });
        res.write(good.subarray(0, 600), () => res.destroy());
      } else {
        res.writeHead(206, { 'content-range': `bytes 600-${good.length - 1}/${good.length}`, 'content-length': good.length - 600 });
        res.end(evil.subarray(600));
      }
      return true;
    });
    const o = await opts();
    const e = await rejection(pull(`${r.host}/x`, o));
    expect(e.code).toBe('ERR_DIGEST_MISMATCH');
    expect(r.log.filter((l) => l.path.endsWith(`/blobs/${layer.digest}`)).map((l) => l.headers.range)).toEqual([undefined, 'bytes=600-']);
    expect(await readdir(path.join(o.storeDir!, 'blobs/sha256'))).not.toContain(layer.digest.slice(7));
    expect((await rejection(pull(`${r.host}/x`, { ...o, policy: 'never' }))).code).toBe('ERR_IMAGE_NOT_PRESENT');
  });

  it('sends Hub pulls to the mirror (with library/) and applies the hub prefix (testcontainers style)', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'library/redis', tags: ['7'], layers });
    pushImage(r, { repo: 'hub/redis', tags: ['7'], layers });
    const o = await opts();
    const viaMirror = await pull('redis:7', { ...o, registryMirror: `http://${r.host}` });
    expect(viaMirror.ref).toBe('docker.io/library/redis:7');
    expect(viaMirror.source).toBe('mirror');
    expect(r.log.some((l) => l.path === '/v2/library/redis/manifests/7')).toBe(true);
    const viaPrefix = await pull('redis:7', { ...(await opts()), env: { SLIPWAY_HUB_IMAGE_NAME_PREFIX: `${r.host}/hub/` } });
    expect(viaPrefix.ref).toBe('docker.io/library/redis:7');
    expect(r.log.some((l) => l.path === '/v2/hub/redis/manifests/7')).toBe(true);
  });

  it('honours an AbortSignal', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    r.hooks.push(async (req) => {
      if (req.url?.includes('/blobs/')) await new Promise((res) => setTimeout(res, 300));
      return false;
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const o = await opts();
    const e = await rejection(pull(`${r.host}/x`, { ...o, signal: ac.signal }));
    expect(e.code).toBe('ERR_ABORTED');
  });

  it('two processes pulling at once both succeed and fetch every blob once', async () => {
    const r = await reg();
    const layers = await twoLayers();
    const third = await makeLayer([{ name: 'big', content: Buffer.alloc(2_000_000, 3) }]);
    const { configDigest } = pushImage(r, { repo: 'x', layers: [...layers, third] });
    r.hooks.push(async (req) => {
      if (req.url?.includes('/blobs/')) await new Promise((res) => setTimeout(res, 700));
      return false;
    });
    const store = await tmp();
    const script = path.join(await tmp(), 'child.ts');
    await writeFile(script, `
      import { pull } from ${JSON.stringify(path.resolve('src/image/pull.ts'))};
      const img = await pull(process.argv[2]!, { storeDir: process.argv[3]!, registry: { credentials: async () => undefined } });
      console.log(JSON.stringify(img.layers.map((l) => l.dir)));
    `);
    const run = promisify(execFile);
    const bin = path.resolve('node_modules/.bin/vite-node');
    const [a, b] = (await Promise.all([0, 1].map(() => run(bin, [script, `${r.host}/x`, store], { cwd: path.resolve('.'), timeout: 60_000 })))) as unknown as [{ stdout: string }, { stdout: string }];
    expect(JSON.parse(a.stdout.trim().split('\n').at(-1)!)).toEqual(JSON.parse(b.stdout.trim().split('\n').at(-1)!));
    for (const d of [configDigest, ...layers.map((l) => l.digest), third.digest]) expect(r.blobFetches(d)).toBe(1);
    expect(await readdir(path.join(store, 'tmp'))).toEqual([]);
  }, 60_000);
});

describe('pull: time limits and registry failures', () => {
  async function storeLeftovers(storeDir: string): Promise<{ tmp: string[]; layers: string[] }> {
    const list = async (d: string): Promise<string[]> => readdir(path.join(storeDir, d), { recursive: true }).catch(() => []);
    return { tmp: await list('tmp'), layers: await list('layers') };
  }

  it('bounds a pull from a registry that accepts and never answers', async () => {
    const r = await reg();
    pushImage(r, { repo: 'x', layers: await twoLayers() });
    r.hooks.push(faults.silent('/manifests/'));
    const e = await rejection(pull(`${r.host}/x`, await opts({ timeout: 400 })));
    expect(e.code).toBe('ERR_PULL_TIMEOUT');
    expect(e.message).toContain(`pulling ${r.host}/x did not finish within 400 ms (the pull was aborted while fetching manifest ${r.host}/x:latest)`);
    expect(e.hint).toMatch(/withPullTimeout\(ms\).*--timeout.*SLIPWAY_PULL_TIMEOUT/);
    expect(SlipwayError.is(e.cause, 'ERR_ABORTED')).toBe(true);
    expect(((e.cause as Error).cause as Error).message).toBe('the pull time limit of 400 ms was reached');
  });

  it('bounds a pull whose layer trickles in, and leaves no half layer in the store', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    r.hooks.push(faults.trickle(`/blobs/${layers[0].digest}`, (req) => r.bodyOf(req), 20));
    const o = await opts({ env: { SLIPWAY_PULL_TIMEOUT: '600' } });
    const e = await rejection(pull(`${r.host}/x`, o));
    expect(e.code).toBe('ERR_PULL_TIMEOUT');
    expect(e.message).toContain(`within 600 ms (the pull was aborted`);
    expect(await storeLeftovers(o.storeDir!)).toEqual({ tmp: [], layers: expect.not.arrayContaining([expect.stringContaining(layers[0].diffId.slice(7))]) });
    // Nothing half-done is trusted: with the registry healthy again the same store pulls the image.
    r.hooks.length = 0;
    const img = await pull(`${r.host}/x`, { ...o, env: {} });
    expect(await readFile(path.join(img.layers[0]!.dir!, 'etc/os-release'), 'utf8')).toBe('ID=fake\n');
  });

  it('reports a layer the registry keeps cutting short, or answering 500 for, with its own hint', async () => {
    const r = await reg();
    const layers = await twoLayers();
    pushImage(r, { repo: 'x', layers });
    pushImage(r, { repo: 'y', layers: [layers[1]] });
    r.hooks.push(faults.truncate(`/blobs/${layers[0].digest}`, (req) => r.bodyOf(req), 50), faults.status('/v2/y/blobs/sha256', 503));
    const cut = await rejection(pull(`${r.host}/x`, await opts()));
    expect(cut.code).toBe('ERR_REGISTRY');
    expect(cut.message).toContain(`registry ${r.host} cut the transfer short`);
    expect(cut.hint).not.toContain('SLIPWAY_INSECURE_REGISTRIES');
    const failing = await rejection(pull(`${r.host}/y`, await opts()));
    expect(failing.code).toBe('ERR_REGISTRY');
    expect(failing.message).toContain(`registry ${r.host} answered HTTP 503 (a server error) on 3 attempts`);
    expect(failing.hint).toContain('retry later');
  });

  it('rejects an invalid pull timeout', async () => {
    expect((await rejection(pull('busybox', await opts({ timeout: -1 })))).code).toBe('ERR_INVALID_ARGUMENT');
    expect((await rejection(pull('busybox', await opts({ env: { SLIPWAY_PULL_TIMEOUT: '5m' } })))).message).toContain('invalid SLIPWAY_PULL_TIMEOUT');
  });

  it('keeps the registry error when a request stalls before the pull limit', async () => {
    const r = await reg();
    pushImage(r, { repo: 'x', layers: await twoLayers() });
    r.hooks.push(faults.silent('/v2/'));
    const o = await opts();
    const e = await rejection(pull(`${r.host}/x`, { ...o, registry: { ...o.registry, timeouts: { headers: 200 } } }));
    expect(e.code).toBe('ERR_REGISTRY_TIMEOUT');
    expect(e.message).toContain(`registry ${r.host} sent no response headers within 200 ms`);
  });
});

describe('pull from disk', () => {
  async function ociLayout(layers: BuiltLayer[], tag: string): Promise<string> {
    const dir = await tmp();
    await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
    const put = async (b: Buffer): Promise<string> => {
      const d = sha256(b);
      await writeFile(path.join(dir, 'blobs/sha256', d.slice(7)), b);
      return d;
    };
    const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: hostArch(), config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
    const cd = await put(config);
    for (const l of layers) await put(l.blob);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length }, layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })) }));
    const md = await put(manifest);
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
    return dir;
  }

  it('loads an OCI layout directory by tag', async () => {
    const layers = await twoLayers();
    const dir = await ociLayout(layers, 'v1');
    const o = await opts();
    const img = await pull(`oci-layout:${dir}:v1`, o);
    expect(img.source).toBe('oci-layout');
    expect(img.config.Cmd).toEqual(['sh']);
    expect(await readFile(path.join(img.layers[0]!.dir!, 'etc/os-release'), 'utf8')).toBe('ID=fake\n');
    expect((await rejection(pull(`oci-layout:${dir}:nope`, o))).code).toBe('ERR_IMAGE_NOT_FOUND');
  });

  it('loads a docker save archive', async () => {
    const layers = await twoLayers();
    const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: hostArch(), config: { Env: ['A=1'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
    const file = path.join(await tmp(), 'image.tar');
    const p = tarPack();
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    const done = new Promise<void>((res) => p.on('end', () => res()));
    p.entry({ name: 'aaa/layer.tar' }, layers[0].tar);
    p.entry({ name: 'bbb/layer.tar' }, layers[1].tar);
    p.entry({ name: 'cfg.json' }, config);
    p.entry({ name: 'manifest.json' }, Buffer.from(JSON.stringify([{ Config: 'cfg.json', RepoTags: ['x:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }])));
    p.finalize();
    await done;
    await writeFile(file, Buffer.concat(chunks));
    const img = await pull(`docker-archive:${file}`, await opts());
    expect(img.source).toBe('docker-archive');
    expect(img.config.Env).toEqual(['A=1']);
    expect(await readFile(path.join(img.layers[0]!.dir!, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect((await lstat(path.join(img.layers[1]!.dir!, 'etc/motd'))).isCharacterDevice()).toBe(true);
  });
});

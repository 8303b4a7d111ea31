// Pulls the fixture images from the real local registry (docker-registry, pushed by skopeo) and checks
// the unpacked overlay-format trees entry by entry against the layer tars.
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pull, type Image } from '../../../src/image/index.js';
import { lgetxattr } from '../../../src/image/syscalls.js';
import { authRegistry, fixtureArchive, fixtureLayout, fixtureRef, registry } from '../harness/index.js';

let store = '';
beforeAll(async () => {
  store = await mkdtemp(path.join(os.tmpdir(), 'slipway-it-image-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});
const asRoot = process.getuid?.() === 0;

/** Walks a layer blob from the store and checks every entry landed in the layer dir as it should. */
async function verifyLayer(image: Image, i: number): Promise<{ files: number; whiteouts: number; opaque: number }> {
  const layer = image.layers[i]!;
  const blob = path.join(store, 'blobs', 'sha256', layer.digest.slice(7));
  const ex = tarExtract();
  const head = (await readFile(blob)).subarray(0, 2);
  const src = createReadStream(blob);
  const feed = head[0] === 0x1f && head[1] === 0x8b ? pipeline(src, zlib.createGunzip(), ex) : pipeline(src, ex);
  const counts = { files: 0, whiteouts: 0, opaque: 0 };
  const seen = new Map<string, string>();
  for await (const e of ex) {
    for await (const _ of e) void _;
    const name = e.header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    seen.set(name, e.header.type ?? 'file');
    const base = path.basename(name);
    const dir = path.dirname(name);
    if (base === '.wh..wh..opq') {
      counts.opaque++;
      expect(lgetxattr(path.join(layer.dir!, dir), 'user.overlay.opaque')?.toString(), name).toBe('y');
      continue;
    }
    if (base.startsWith('.wh.')) {
      counts.whiteouts++;
      const st = await lstat(path.join(layer.dir!, dir, base.slice(4)));
      expect(st.isCharacterDevice() && st.rdev === 0, name).toBe(true);
      continue;
    }
    if (name === '' || name === '.') continue;
    const st = await lstat(path.join(layer.dir!, name));
    const h = e.header;
    if (h.type === 'file') {
      counts.files++;
      expect(st.isFile(), name).toBe(true);
      expect(st.size, name).toBe(h.size);
    } else if (h.type === 'directory') expect(st.isDirectory(), name).toBe(true);
    else if (h.type === 'symlink') expect(st.isSymbolicLink(), name).toBe(true);
    if (h.type !== 'symlink' && h.type !== 'link') expect((st.mode & 0o7777).toString(8), name).toBe(((h.mode ?? 0) & 0o7777).toString(8));
    if (asRoot && h.type !== 'link') expect(`${st.uid}:${st.gid}`, name).toBe(`${h.uid}:${h.gid}`);
    if (h.type !== 'link' && h.mtime) expect(Math.floor(st.mtimeMs / 1000), name).toBe(Math.floor(h.mtime.getTime() / 1000));
  }
  await feed;
  return counts;
}

describe('pull from the local registry', () => {
  it('pulls busybox and unpacks it faithfully', async () => {
    const img = await pull(fixtureRef('busybox'), { storeDir: store });
    expect(img.ref).toBe(fixtureRef('busybox'));
    expect(img.layers.length).toBe(1);
    const busybox = await lstat(path.join(img.layers[0]!.dir!, 'bin', 'busybox'));
    expect(busybox.isFile()).toBe(true);
    await verifyLayer(img, 0);
  });

  it('reads the busybox:config image config', async () => {
    const img = await pull(fixtureRef('busybox', 'config'), { storeDir: store });
    expect(img.config.User).toBe('app');
    expect(Object.keys(img.config.ExposedPorts).sort()).toEqual(['8080/tcp', '9090/udp']);
    expect(img.config.Entrypoint).not.toBeNull();
  });

  it('selects platforms from the busybox:multi index', async () => {
    const host = await pull(fixtureRef('busybox', 'multi'), { storeDir: store });
    const arm = await pull(fixtureRef('busybox', 'multi'), { storeDir: store, platform: 'linux/arm64' });
    expect(host.digest).toBe(arm.digest);
    expect(host.manifestDigest).not.toBe(arm.manifestDigest);
    await expect(pull(fixtureRef('busybox', 'multi'), { storeDir: store, platform: 'linux/s390x' })).rejects.toMatchObject({ code: 'ERR_PLATFORM_NOT_FOUND' });
  });

  it('refuses a single-platform image of another platform than the one asked for, naming the one it has', async () => {
    const err = await pull(fixtureRef('busybox'), { storeDir: store, platform: 'linux/s390x' }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PLATFORM_NOT_FOUND' });
    expect((err as Error).message).toMatch(/available: linux\/amd64|available: linux\/arm64/);
    await expect(pull(`docker-archive:${fixtureArchive('busybox-docker')}`, { storeDir: store, platform: 'linux/s390x' })).rejects.toMatchObject({ code: 'ERR_PLATFORM_NOT_FOUND' });
    await expect(pull(`oci-layout:${fixtureLayout('busybox')}:latest`, { storeDir: store, platform: 'linux/s390x' })).rejects.toMatchObject({ code: 'ERR_PLATFORM_NOT_FOUND' });
  });

  it('pulls postgres (2 layers) with whiteouts, ownership and modes applied', async () => {
    const t0 = Date.now();
    const img = await pull(fixtureRef('postgres'), { storeDir: store });
    const ms = Date.now() - t0;
    const mb = img.layers.reduce((s, l) => s + l.size, 0) / 1e6;
    console.log(`[image] cold pull+unpack postgres: ${mb.toFixed(1)} MB compressed in ${ms} ms (${(mb / (ms / 1000)).toFixed(1)} MB/s)`);
    expect(img.layers.length).toBe(2);
    const dirs = img.layers.map((l) => l.dir!);
    const found = await Promise.all(dirs.map((d) => lstat(path.join(d, 'usr/lib/postgresql')).then(() => true, () => false)));
    expect(found.some(Boolean)).toBe(true);
    const counts = await Promise.all(img.layers.map((_, i) => verifyLayer(img, i)));
    expect(counts.reduce((s, c) => s + c.files, 0)).toBeGreaterThan(1000);
    console.log(`[image] postgres layers: ${JSON.stringify(counts)}`);
    // The cache answers the second time without touching layers.
    const again = await pull(fixtureRef('postgres'), { storeDir: store });
    expect(again.source).toBe('cache');
  });

  it('pulls from the basic-auth registry with credentials from a Docker config', async () => {
    const auth = authRegistry();
    const cfgDir = await mkdtemp(path.join(os.tmpdir(), 'slipway-it-dockercfg-'));
    try {
      await writeFile(path.join(cfgDir, 'config.json'), JSON.stringify({ auths: { [auth.address]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } }));
      const ref = fixtureRef('busybox').replace(registry(), auth.address);
      const img = await pull(ref, { storeDir: store, policy: 'always', env: { ...process.env, DOCKER_CONFIG: cfgDir } });
      expect(img.layers.length).toBe(1);
      await expect(pull(ref, { storeDir: store, policy: 'always', env: { HOME: cfgDir } })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
    } finally {
      await rm(cfgDir, { recursive: true, force: true });
    }
  });

  it('loads the fixture OCI layout and docker archive from disk', async () => {
    const fixtures = process.env.SLIPWAY_FIXTURES_DIR ?? '/var/cache/slipway-fixtures';
    const viaRegistry = await pull(fixtureRef('busybox'), { storeDir: store });
    const layout = await pull(`oci-layout:${path.join(fixtures, 'oci/busybox')}:latest`, { storeDir: store });
    expect(layout.layers.map((l) => l.chainId)).toEqual(viaRegistry.layers.map((l) => l.chainId));
    const archive = await pull(`docker-archive:${path.join(fixtures, 'archives/busybox.docker.tar')}`, { storeDir: await mkdtemp(path.join(os.tmpdir(), 'slipway-it-arch-')) });
    expect(archive.layers.map((l) => l.diffId)).toEqual(viaRegistry.layers.map((l) => l.diffId));
    await rm(path.dirname(path.dirname(path.dirname(archive.layers[0]!.dir!))), { recursive: true, force: true });
  });
});

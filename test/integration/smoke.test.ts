// Proves the harness: the real registry serves the fixture images exactly as they sit in their OCI
// layouts on disk (skopeo pushed them without rewriting), over plain HTTP and with basic auth.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { authRegistry, fixtureLayout, fixtureRef, registry, type FixtureName } from './harness/index.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}
interface Manifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
}

function layoutDescriptor(name: FixtureName, tag: string): Descriptor {
  const index = JSON.parse(readFileSync(join(fixtureLayout(name), 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!d) throw new Error(`tag ${tag} not in ${fixtureLayout(name)}/index.json`);
  return d;
}

function layoutBlob(name: FixtureName, digest: string): Buffer {
  return readFileSync(join(fixtureLayout(name), 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
}

async function getManifest(repo: string, tag: string, headers: Record<string, string> = {}, address = registry()) {
  return request(`http://${address}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}`, ...headers },
  });
}

describe('local registry with fixture images', () => {
  it.each([
    ['busybox', 'latest', 1],
    ['redis', '7', 2],
    ['postgres', '15', 2],
    ['nginx', '1', 2],
    ['debian', 'bookworm', 1],
  ] as const)('serves %s:%s as on disk (%i layers)', async (name, tag, layers) => {
    const onDisk = layoutDescriptor(name, tag);
    const diskManifest = JSON.parse(layoutBlob(name, onDisk.digest).toString('utf8')) as Manifest;

    const res = await getManifest(`library/${name}`, tag);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(OCI_MANIFEST);
    expect(res.headers['docker-content-digest']).toBe(onDisk.digest);
    const manifest = (await res.body.json()) as Manifest;

    expect(manifest.layers).toHaveLength(layers);
    expect(diskManifest.layers).toHaveLength(layers);
    expect(manifest.config.digest).toBe(diskManifest.config.digest);
    expect(new Set(manifest.layers.map((l) => l.mediaType))).toEqual(new Set(['application/vnd.oci.image.layer.v1.tar+gzip']));
    expect(manifest.layers.map((l) => l.digest)).toEqual(diskManifest.layers.map((l) => l.digest));

    // The config blob comes back byte for byte.
    const cfg = await request(`http://${registry()}/v2/library/${name}/blobs/${manifest.config.digest}`);
    expect(cfg.statusCode).toBe(200);
    expect(Buffer.from(await cfg.body.arrayBuffer()).equals(layoutBlob(name, manifest.config.digest))).toBe(true);
  });

  it('fixtureRef names repositories that exist, with and without library/', async () => {
    const ref = fixtureRef('redis');
    expect(ref).toBe(`${registry()}/library/redis:7`);
    for (const repo of ['library/redis', 'redis']) {
      const res = await getManifest(repo, '7');
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
    const missing = await getManifest('library/redis', 'no-such-tag');
    await missing.body.dump();
    expect(missing.statusCode).toBe(404);
  });

  it('serves busybox:multi as an index with amd64 and arm64 entries', async () => {
    const res = await getManifest('library/busybox', 'multi');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(OCI_INDEX);
    const index = (await res.body.json()) as Manifest;
    expect(index.manifests?.map((m) => `${m.platform?.os}/${m.platform?.architecture}`)).toEqual(['linux/amd64', 'linux/arm64']);
    expect(index.manifests?.[0]?.digest).toBe(layoutDescriptor('busybox', 'latest').digest);
  });

  it('the auth registry rejects anonymous requests and accepts the test credentials', async () => {
    const { address, username, password } = authRegistry();
    const anon = await getManifest('library/busybox', 'latest', {}, address);
    await anon.body.dump();
    expect(anon.statusCode).toBe(401);
    expect(String(anon.headers['www-authenticate'])).toMatch(/^Basic realm="slipway-test"/);

    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const ok = await getManifest('library/busybox', 'latest', { authorization: basic }, address);
    await ok.body.dump();
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['docker-content-digest']).toBe(layoutDescriptor('busybox', 'latest').digest);

    const wrong = await getManifest('library/busybox', 'latest', { authorization: `Basic ${Buffer.from(`${username}:nope`).toString('base64')}` }, address);
    await wrong.body.dump();
    expect(wrong.statusCode).toBe(401);
  });
});

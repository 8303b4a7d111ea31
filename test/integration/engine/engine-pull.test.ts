// Image pulls on the engine runtime: the public pull() fills the engine's store, its progress stream is mapped to
// onProgress, and slipway's credentials reach the engine as X-Registry-Auth (the loopback registry that demands basic auth).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, expect, it } from 'vitest';
import tar from 'tar-stream';
import { pull, type PullProgress } from '../../../src/index.js';
import { authRegistry, registry, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A one-layer image no engine has seen (1 MB of random bytes), pushed to `address` by the distribution API. */
async function pushFreshImage(address: string, repo: string, headers: Record<string, string> = {}): Promise<{ manifestDigest: string; layer: { digest: string; size: number } }> {
  const pack = tar.pack();
  pack.entry({ name: 'random.bin', mode: 0o644 }, randomBytes(1 << 20));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const layerTar = Buffer.concat(chunks);
  const layer = gzipSync(layerTar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layerTar)] }, config: { Cmd: ['/random.bin'] } }));
  for (const blob of [layer, config]) {
    const start = await fetch(`http://${address}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location')!, `http://${address}`);
    location.searchParams.set('digest', sha(blob));
    const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
    expect(put.status).toBe(201);
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }));
  const put = await fetch(`http://${address}/v2/${repo}/manifests/latest`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  expect(put.status).toBe(201);
  return { manifestDigest: sha(manifest), layer: { digest: sha(layer), size: layer.length } };
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: pull', () => {
  const images: string[] = [];
  const dirs: string[] = [];
  afterAll(() => {
    for (const i of images) { try { docker('rmi', '-f', i); } catch { /* not pulled */ } }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('pull() fills the engine\'s store, with the engine\'s progress as onProgress events and the layers from the registry', async () => {
    const repo = `engine-pull/${randomBytes(4).toString('hex')}`;
    const pushed = await pushFreshImage(registry(), repo);
    const ref = `${registry()}/${repo}:latest`;
    images.push(ref);
    const events: PullProgress[] = [];
    const image = await pull(ref, { onProgress: (e) => events.push(e) });
    expect(image).toMatchObject({ ref, digest: pushed.manifestDigest, manifestDigest: pushed.manifestDigest, source: 'registry', layers: [pushed.layer], platform: { os: 'linux', architecture: 'amd64' } });
    // The engine, not slipway's store, has it: containers on the engine start from it.
    expect(docker('image', 'inspect', '-f', '{{index .RepoDigests 0}}', ref)).toBe(`${registry()}/${repo}@${pushed.manifestDigest}`);
    // The engine names layers by 12 hex digits; sizes are the compressed bytes, as natively; the last event is complete.
    const layer = `sha256:${pushed.layer.digest.slice(7, 19)}`;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.layer === layer && e.total === pushed.layer.size && e.current <= e.total)).toBe(true);
    expect(events.at(-1)).toEqual({ layer, current: pushed.layer.size, total: pushed.layer.size });
    // Policy missing: the engine has it, nothing is pulled again.
    const again: PullProgress[] = [];
    expect(await pull(ref, { onProgress: (e) => again.push(e) })).toMatchObject({ source: 'cache', digest: pushed.manifestDigest, layers: [pushed.layer] });
    expect(again).toEqual([]);
  });

  it('credentials from the Docker config reach the engine as X-Registry-Auth; without them the pull is ERR_REGISTRY_AUTH', async () => {
    const auth = authRegistry();
    const basic = { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
    const repo = `engine-pull-auth/${randomBytes(4).toString('hex')}`;
    const pushed = await pushFreshImage(auth.address, repo, basic);
    const ref = `${auth.address}/${repo}:latest`;
    images.push(ref);
    const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-auth-'));
    dirs.push(dir);
    const saved = process.env.DOCKER_CONFIG;
    try {
      process.env.DOCKER_CONFIG = dir; // no config.json: no credentials
      const refused = await pull(ref).then(() => undefined, (e: unknown) => e as { code?: string; message?: string } | undefined);
      expect(refused?.code, refused?.message).toBe('ERR_REGISTRY_AUTH'); // the whole message when it is another code
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [auth.address]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } }));
      const image = await pull(ref);
      expect(image).toMatchObject({ digest: pushed.manifestDigest, source: 'registry', layers: [pushed.layer] });
      expect(docker('image', 'inspect', '-f', '{{.Id}}', ref)).toMatch(/^sha256:/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG; else process.env.DOCKER_CONFIG = saved;
    }
  });
});

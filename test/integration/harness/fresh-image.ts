/** A fresh image, pushed straight to a test registry by the distribution API or served as it is (no store, no engine involved). */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { expect } from 'vitest';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A fresh one-layer image (1 MB of random bytes): its blobs and manifest, with their digests, to push or to serve. */
export interface FreshImage {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  digest: { layer: string; config: string; manifest: string };
}

/** A one-layer image no engine or registry has seen: 1 MB of random bytes, gzipped, in an OCI manifest. */
export async function freshImage(): Promise<FreshImage> {
  const pack = tar.pack();
  pack.entry({ name: 'random.bin', mode: 0o644 }, randomBytes(1 << 20));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const layerTar = Buffer.concat(chunks);
  const layer = gzipSync(layerTar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layerTar)] }, config: { Cmd: ['/random.bin'] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }));
  return { layer, config, manifest, digest: { layer: sha(layer), config: sha(config), manifest: sha(manifest) } };
}

/** A one-layer image no engine has seen (1 MB of random bytes), pushed to `address` by the distribution API. */
export async function pushFreshImage(address: string, repo: string, headers: Record<string, string> = {}): Promise<{ manifestDigest: string; layer: { digest: string; size: number } }> {
  const { layer, config, manifest, digest } = await freshImage();
  for (const blob of [layer, config]) {
    const start = await fetch(`http://${address}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location')!, `http://${address}`);
    location.searchParams.set('digest', sha(blob));
    const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
    expect(put.status).toBe(201);
  }
  const put = await fetch(`http://${address}/v2/${repo}/manifests/latest`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  expect(put.status).toBe(201);
  return { manifestDigest: digest.manifest, layer: { digest: digest.layer, size: layer.length } };
}

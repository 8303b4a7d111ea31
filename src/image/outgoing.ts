/**
 * A stored image made ready to leave the store (export, push): its config, an OCI manifest, and every layer as a
 * compressed blob file in the store. Layers the store keeps uncompressed (built and committed ones) are gzipped once
 * and kept beside them (`refs/` record `gzip|<diffId>`), so a second export or push reuses the blob.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { SlipwayError } from '../errors.js';
import { MediaType, parseManifest, type Descriptor } from './manifest.js';
import type { Platform } from './platform.js';
import { storedImage } from './pull.js';
import { ImageStore } from './store.js';
import { loadConfig } from '../config/index.js';

/** OCI media type of a gzip layer. */
export const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** One layer of an {@link OutgoingImage}. */
export interface OutgoingLayer {
  /** Descriptor as written into the outgoing manifest (OCI media type, compressed digest and size). */
  desc: Descriptor;
  diffId: string;
  /** The blob file in the store. */
  path: string;
}

/** A stored image as it leaves the store. */
export interface OutgoingImage {
  /** The normalized reference. */
  ref: string;
  platform: Platform;
  config: { bytes: Buffer; digest: string };
  /** The OCI manifest over {@link OutgoingImage.layers} (compressed layers, so possibly new for built images). */
  manifest: { bytes: Buffer; digest: string };
  layers: OutgoingLayer[];
}

/**
 * Options shared by export and push for finding the image in the store.
 * @example
 * import { exportImage, type StoredImageOptions } from 'slipway';
 * const where: StoredImageOptions = { platform: 'linux/arm64', storeDir: '/tmp/slipway-store' };
 * await exportImage('app:test', 'oci-layout:/tmp/app-arm64', where);
 */
export interface StoredImageOptions {
  /** `os/arch[/variant]` of the stored image. @defaultValue this host's platform */
  platform?: string;
  /** Store root. @defaultValue the `storeDir` setting (`$SLIPWAY_CACHE_DIR`, a config file), else `~/.cache/slipway` */
  storeDir?: string;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

const OCI_OF: Record<string, string> = {
  'application/vnd.docker.image.rootfs.diff.tar.gzip': GZIP_LAYER,
  'application/vnd.docker.image.rootfs.diff.tar': 'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/**
 * Reads `ref` from the store and makes each layer a compressed blob.
 * @throws {@link SlipwayError} `ERR_IMAGE_NOT_PRESENT` (no such image, or a blob the store no longer has), `ERR_STORE`
 */
export async function outgoingImage(ref: string, opts: StoredImageOptions = {}): Promise<OutgoingImage> {
  const storeDir = opts.storeDir ?? loadConfig({ env: opts.env }).values.storeDir;
  const image = await storedImage(ref, { storeDir, platform: opts.platform, env: opts.env });
  const store = new ImageStore(storeDir);
  const missing = (what: string): SlipwayError => new SlipwayError('ERR_IMAGE_NOT_PRESENT', `${image.ref}: ${what} is not in the store at ${store.root}`, {
    hint: 'pull the image again (`slipway pull <ref>`) or build it again; `slipway prune` may have removed it',
  });
  const mBytes = await store.readBlob(image.manifestDigest);
  if (!mBytes) throw missing(`its manifest ${image.manifestDigest}`);
  const manifest = parseManifest(mBytes, JSON.parse(mBytes.toString()).mediaType ?? MediaType.OciManifest, `manifest of ${image.ref}`);
  if (manifest.kind !== 'manifest') throw new SlipwayError('ERR_STORE', `${image.ref}: the stored manifest ${image.manifestDigest} is an index`);
  const cfgBytes = await store.readBlob(manifest.config.digest);
  if (!cfgBytes) throw missing(`its config ${manifest.config.digest}`);
  const layers: OutgoingLayer[] = [];
  for (const [i, d] of manifest.layers.entries()) {
    const diffId = image.layers[i]?.diffId;
    if (!diffId) throw new SlipwayError('ERR_STORE', `${image.ref}: the store's record lists fewer layers than its manifest`, { hint: 'pull or build the image again' });
    if (!(await store.hasBlob(d.digest))) throw missing(`layer ${d.digest}`);
    const mediaType = OCI_OF[d.mediaType] ?? d.mediaType;
    if (mediaType === 'application/vnd.oci.image.layer.v1.tar') {
      const gz = await gzipLayer(store, d.digest, opts.signal);
      layers.push({ desc: { mediaType: GZIP_LAYER, digest: gz.digest, size: gz.size }, diffId, path: store.blobPath(gz.digest) });
    } else {
      layers.push({ desc: { mediaType, digest: d.digest, size: d.size }, diffId, path: store.blobPath(d.digest) });
    }
  }
  const out = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: manifest.config.digest, size: cfgBytes.length },
    layers: layers.map((l) => l.desc),
  };
  const outBytes = Buffer.from(JSON.stringify(out));
  return {
    ref: image.ref, platform: image.platform,
    config: { bytes: cfgBytes, digest: manifest.config.digest },
    manifest: { bytes: outBytes, digest: sha(outBytes) },
    layers,
  };
}

/**
 * The gzip blob of an uncompressed layer blob, made once (under a lock) and kept in the store. Node's gzip writes
 * no name and mtime 0, so the same layer always gives the same digest.
 */
async function gzipLayer(store: ImageStore, diffId: string, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
  const key = `gzip|${diffId}`;
  const known = async (): Promise<{ digest: string; size: number } | undefined> => {
    const rec = await store.readRef<{ digest: string; size: number }>(key);
    if (!rec) return undefined;
    const st = await stat(store.blobPath(rec.digest)).catch(() => undefined);
    return st?.size === rec.size ? rec : undefined;
  };
  const have = await known();
  if (have) return have;
  const lock = await store.lock(`gzip-${diffId.slice(7)}`, signal);
  try {
    const again = await known();
    if (again) return again;
    const tmp = store.tempPath('gzip_layer');
    const hash = createHash('sha256');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(store.blobPath(diffId), { highWaterMark: 1 << 20 }), createGzip(), count, createWriteStream(tmp), { signal });
      const digest = `sha256:${hash.digest('hex')}`;
      await rename(tmp, store.blobPath(digest));
      await store.writeRef(key, { digest, size });
      return { digest, size };
    } finally {
      await rm(tmp, { force: true });
    }
  } finally {
    lock.release();
  }
}

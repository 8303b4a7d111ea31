/**
 * Blobs of images read from files (`oci-layout:`, `docker-archive:`), kept in the store as a registry pull keeps
 * them, so `slipway save`, `push` and a build `FROM` the loaded image find its manifest, config and layers.
 */
import { createHash } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { SlipwayError } from '../errors.js';
import { MediaType } from './manifest.js';
import type { ImageStore } from './store.js';
import { syncFileWriter, type BlobWriter } from './sync-file-writer.js';

/** Media types of an uncompressed, gzip and zstd layer in a Docker schema 2 manifest. */
const LAYER_TYPE = {
  none: 'application/vnd.docker.image.rootfs.diff.tar',
  gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** A layer blob as a manifest lists it. */
export interface KeptLayer { digest: string; size: number; compression: keyof typeof LAYER_TYPE }

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/**
 * Copies a file's bytes (`open()`: the caller's opener, which refuses what is not a regular file) into the store as
 * the blob `digest` unless the store has it, checking the digest on the way (published only if it matches).
 * @throws {@link SlipwayError} `ERR_DIGEST_MISMATCH` when the file is not what its name says
 */
export async function keepFileBlob(store: ImageStore, digest: string, open: () => AsyncIterable<Buffer>, label: string): Promise<void> {
  if (await store.hasBlob(digest)) return;
  const hash = createHash('sha256');
  const w = await store.blobWriter(digest);
  try {
    for await (const c of open()) {
      hash.update(c);
      await w.write(c);
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== digest) {
    await w.abort();
    throw new SlipwayError('ERR_DIGEST_MISMATCH', `${label}: blob ${digest} holds ${got}`, { hint: 'the file was changed or is corrupt; write it again' });
  }
  await w.commit();
}

/**
 * A blob writer for bytes whose digest is known only at the end (a layer inside a docker archive): written under a
 * temp name, published as `blobs/sha256/<digest of what was written>` by `commit()`; `kept()` then describes it.
 */
export async function digestingBlobWriter(store: ImageStore): Promise<BlobWriter & { kept(): { digest: string; size: number } }> {
  await store.init();
  const tmp = store.tempPath('blob_archive_layer');
  const hash = createHash('sha256');
  let size = 0;
  let digest = '';
  const file = syncFileWriter(tmp, async () => {
    digest = `sha256:${hash.digest('hex')}`;
    await rename(tmp, store.blobPath(digest));
  });
  return {
    write: async (c) => {
      hash.update(c);
      size += c.length;
      file.writeSync(c);
    },
    commit: () => file.commit(),
    abort: () => file.abort(),
    kept: () => ({ digest, size }),
  };
}

/** The compression of a layer blob, from its first bytes. */
export function layerCompression(head: Buffer): KeptLayer['compression'] {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Writes a Docker schema 2 manifest over a config and kept layer blobs into the store (the config too) and returns
 * its digest: what a docker archive, which has no manifest of its own, is recorded under.
 */
export async function writeArchiveManifest(store: ImageStore, config: Buffer, layers: KeptLayer[]): Promise<string> {
  const configDigest = sha(config);
  await store.writeBlob(configDigest, config);
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: LAYER_TYPE[l.compression], digest: l.digest, size: l.size })),
  }));
  const digest = sha(bytes);
  await store.writeBlob(digest, bytes);
  return digest;
}

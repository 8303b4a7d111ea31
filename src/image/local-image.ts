/**
 * Writing images into the store without a registry: a layer tar kept as an uncompressed blob and unpacked into the
 * layer store, and an image (config, manifest, tag) over such layers. Shared by the Dockerfile builder and
 * `StartedContainer.commit()`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, rename } from 'node:fs/promises';
import { SlipwayError } from '../errors.js';
import type { LayerDiff } from './layer-diff.js';
import type { ContainerConfig, ImageConfigFile } from './manifest.js';
import type { Platform } from './platform.js';
import { imageConfigOf, tagLocalImage, type Image, type ImageLayer } from './pull.js';
import type { ImageStore } from './store.js';
import { unpackLayer, type ApplyOwnership } from './unpack.js';

/** Media type of the uncompressed layers slipway writes. */
export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
/** The timestamp written into built and committed images (reproducible digests). */
export const EPOCH = '1970-01-01T00:00:00Z';

/** One `history` entry of an image config. */
export interface HistoryEntry { created: string; created_by: string; comment?: string; author?: string; empty_layer?: boolean }

/** The image config fields slipway writes (the runtime view plus what only builds read). */
export interface FullConfig extends ContainerConfig {
  Shell?: string[];
  OnBuild?: string[] | null;
}

/** How layers get their owners in the store (from the runtime's keeper). */
export interface LayerOwnership { mappingKey: string; applyOwnership: ApplyOwnership }

/** The image layer record of a stored layer. */
export function storedLayer(store: ImageStore, mappingKey: string, diffId: string, size: number, chainId: string): ImageLayer {
  return { digest: diffId, diffId, chainId, size, mediaType: LAYER_MEDIA_TYPE, dir: store.layerDir(mappingKey, chainId) };
}

/**
 * Keeps the tar as a blob (uncompressed: its digest is its diff id) and unpacks it into the layer store. A snapshot
 * layer (`keepBlob: false`) is only ever mounted: it is unpacked from `tar` and no blob is kept.
 */
export async function storeLayerTar(store: ImageStore, tar: string, diff: LayerDiff, chainId: string, own: LayerOwnership, signal?: AbortSignal, opts: { keepBlob?: boolean } = {}): Promise<void> {
  const keepBlob = opts.keepBlob ?? true;
  const blob = keepBlob ? store.blobPath(diff.diffId) : tar;
  if (keepBlob && !(await store.hasBlob(diff.diffId))) {
    const tmp = store.tempPath('layer_blob');
    await copyFile(tar, tmp);
    await rename(tmp, blob);
  }
  if (await store.layerReady(own.mappingKey, chainId)) return;
  const lock = await store.lock(`layer-${own.mappingKey}-${chainId.slice(7)}`, signal);
  try {
    if (await store.layerReady(own.mappingKey, chainId)) return;
    await store.discardLayer(own.mappingKey, chainId);
    const dir = await store.layerTempDir(chainId);
    await unpackLayer({
      source: createReadStream(blob), dir, diffId: diff.diffId, ownershipListPath: `${dir}.owners`,
      applyOwnership: own.applyOwnership, label: `layer ${diff.diffId}`, signal,
    });
    await store.commitLayer(dir, own.mappingKey, chainId);
  } finally {
    lock.release();
  }
}

/** The config as Docker writes it: no empty fields. */
export function cleanConfig(c: FullConfig): FullConfig {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined || v === null || v === '') continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out as FullConfig;
}

/** What {@link writeLocalImage} wrote. */
export interface LocalImage { ref: string; digest: string; configDigest: string }

/**
 * Writes the image config and manifest as blobs and tags the image in the store (`tag`, else `defaultName` plus
 * the config digest's first 12 hex digits), so `pull()` with any policy finds it locally.
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` when `tag` is not a valid reference
 */
export async function writeLocalImage(store: ImageStore, img: {
  platform: Platform; config: FullConfig; layers: ImageLayer[]; history: HistoryEntry[]; tag?: string; defaultName: string; storeDir?: string; author?: string;
}): Promise<LocalImage> {
  const cfg: ImageConfigFile & { history: HistoryEntry[] } = {
    architecture: img.platform.architecture,
    os: img.platform.os,
    ...(img.platform.variant ? { variant: img.platform.variant } : {}),
    created: EPOCH,
    ...(img.author ? { author: img.author } : {}),
    config: cleanConfig(img.config),
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => l.diffId) },
    history: img.history,
  };
  const cfgBytes = Buffer.from(JSON.stringify(cfg));
  const configDigest = `sha256:${createHash('sha256').update(cfgBytes).digest('hex')}`;
  await store.writeBlob(configDigest, cfgBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: cfgBytes.length },
    layers: img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const mBytes = Buffer.from(JSON.stringify(manifest));
  const digest = `sha256:${createHash('sha256').update(mBytes).digest('hex')}`;
  await store.writeBlob(digest, mBytes);
  const tag = img.tag ?? `${img.defaultName}:${configDigest.slice(7, 19)}`;
  let ref: string;
  try {
    ref = await tagLocalImage(tag, {
      digest, manifestDigest: digest, config: imageConfigOf(cfg), platform: img.platform, layers: img.layers,
    }, { storeDir: img.storeDir });
  } catch (e) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `cannot tag the image as ${JSON.stringify(tag)}: ${(e as Error).message}`, { hint: 'use name[:tag], e.g. myapp:test', cause: e });
  }
  return { ref, digest, configDigest };
}

/** The full config file of a stored image (for its history and fields the runtime view drops), when the store has it. */
export async function storedConfigFile(store: ImageStore, image: Pick<Image, 'manifestDigest'>): Promise<(ImageConfigFile & { config?: FullConfig; history?: HistoryEntry[] }) | undefined> {
  const m = await store.readBlob(image.manifestDigest);
  if (!m) return undefined;
  try {
    const cfg = await store.readBlob((JSON.parse(m.toString()) as { config: { digest: string } }).config.digest);
    return cfg ? JSON.parse(cfg.toString()) as ImageConfigFile : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `exportImage()`: writes a stored image (built, committed or pulled) out of the store, as an OCI image layout
 * directory (`oci-layout:<dir>[:tag]`) or a `docker load`-compatible tarball (`docker-archive:<file.tar>`: the
 * layout Docker ≥ 25 saves, an OCI layout plus `manifest.json` and `repositories`). Layers leave gzip-compressed.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import { SlipwayError } from '../errors.js';
import { withSettings } from '../config/index.js';
import { tarEntry } from '../internal/tar-entry.js';
import { MediaType } from './manifest.js';
import { outgoingImage, type OutgoingImage, type StoredImageOptions } from './outgoing.js';
import { familiarString, parseReference } from './reference.js';

/**
 * Options of {@link exportImage}.
 * @example
 * import { exportImage, type ExportImageOptions } from 'slipway';
 * const options: ExportImageOptions = { platform: 'linux/amd64' };
 * await exportImage('app:test', 'docker-archive:/tmp/app.tar', options);
 */
export interface ExportImageOptions extends StoredImageOptions {}

/**
 * What {@link exportImage} wrote.
 * @example
 * import { exportImage } from 'slipway';
 * const { manifestDigest, layers } = await exportImage('app:test', 'oci-layout:/tmp/app-oci');
 */
export interface ExportedImage {
  /** The normalized reference that was exported. */
  ref: string;
  /** Where: `oci-layout:<abs dir>:<tag>` or `docker-archive:<abs file>`. */
  dest: string;
  /** Digest of the OCI manifest written (its layers gzip-compressed). */
  manifestDigest: string;
  configDigest: string;
  /** The layers as written, bottom first: compressed digest and size. */
  layers: { digest: string; size: number }[];
}

/** The tag an OCI layout names an image by: the reference's tag, else `latest`. */
function tagOf(ref: string): string {
  return parseReference(ref).tag ?? 'latest';
}

/**
 * Exports an image from the store to `oci-layout:<dir>[:tag]` (created, or added to: other images in the layout's
 * `index.json` stay, one with the same tag is replaced) or `docker-archive:<file.tar>` (what `docker save` writes;
 * `docker load -i` and `pull('docker-archive:…')` read it). Both read back with `pull()` / `new Container(dest)`.
 * @throws {@link SlipwayError} `ERR_INVALID_ARGUMENT` (another destination form), `ERR_IMAGE_NOT_PRESENT` (the store
 *   does not hold the image or one of its blobs), `ERR_INVALID_REFERENCE`, `ERR_STORE` (writing failed)
 * @example
 * import { Container, exportImage } from 'slipway';
 * const ref = await Container.fromDockerfile('./app', { tag: 'app:test' });
 * await exportImage(ref, 'docker-archive:/tmp/app.tar'); // docker load -i /tmp/app.tar
 */
export async function exportImage(ref: string, dest: string, options: ExportImageOptions = {}): Promise<ExportedImage> {
  return withSettings(() => exportInScope(ref, dest, options));
}

async function exportInScope(ref: string, dest: string, options: ExportImageOptions): Promise<ExportedImage> {
  const target = parseDestination(dest);
  const img = await outgoingImage(ref, options);
  const written = target.kind === 'oci-layout'
    ? await writeOciLayout(img, target.path, target.tag ?? tagOf(img.ref))
    : await writeDockerArchive(img, target.path, options.signal);
  return {
    ref: img.ref, dest: written, manifestDigest: img.manifest.digest, configDigest: img.config.digest,
    layers: img.layers.map((l) => ({ digest: l.desc.digest, size: l.desc.size })),
  };
}

/** An export destination: `oci-layout:<dir>[:tag]` or `docker-archive:<file>`. */
export function parseDestination(dest: string): { kind: 'oci-layout' | 'docker-archive'; path: string; tag?: string } {
  if (typeof dest === 'string' && dest.startsWith('oci-layout:')) {
    let p = dest.slice('oci-layout:'.length);
    let tag: string | undefined;
    const m = /^(.*[^:/]):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(p);
    if (m && !m[2]!.includes('/')) {
      p = m[1]!;
      tag = m[2]!;
    }
    if (!p) throw badDestination(dest);
    return { kind: 'oci-layout', path: path.resolve(p), ...(tag ? { tag } : {}) };
  }
  if (typeof dest === 'string' && dest.startsWith('docker-archive:') && dest.length > 'docker-archive:'.length) {
    return { kind: 'docker-archive', path: path.resolve(dest.slice('docker-archive:'.length)) };
  }
  throw badDestination(dest);
}

function badDestination(dest: unknown): SlipwayError {
  return new SlipwayError('ERR_INVALID_ARGUMENT', `invalid export destination ${JSON.stringify(dest)}`, {
    hint: 'use oci-layout:<dir>[:tag] or docker-archive:<file.tar>',
  });
}

interface IndexFile { schemaVersion: 2; mediaType?: string; manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: object }[] }

function indexEntry(img: OutgoingImage, tag: string): IndexFile['manifests'][number] {
  return {
    mediaType: MediaType.OciManifest, digest: img.manifest.digest, size: img.manifest.bytes.length,
    annotations: { 'io.containerd.image.name': img.ref, 'org.opencontainers.image.ref.name': tag },
    platform: { architecture: img.platform.architecture, os: img.platform.os, ...(img.platform.variant ? { variant: img.platform.variant } : {}) },
  };
}

async function writeOciLayout(img: OutgoingImage, dir: string, tag: string): Promise<string> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  try {
    await mkdir(blobs, { recursive: true });
    const put = async (digest: string, from: { bytes: Buffer } | { file: string }): Promise<void> => {
      const dest = path.join(blobs, digest.slice(7));
      const size = 'bytes' in from ? from.bytes.length : (await stat(from.file)).size;
      if ((await stat(dest).catch(() => undefined))?.size === size) return; // content-addressed: already there
      const tmp = `${dest}.tmp-${process.pid}`;
      if ('bytes' in from) await writeFile(tmp, from.bytes);
      else await copyFile(from.file, tmp);
      await rename(tmp, dest);
    };
    for (const l of img.layers) await put(l.desc.digest, { file: l.path });
    await put(img.config.digest, img.config);
    await put(img.manifest.digest, img.manifest);
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const indexPath = path.join(dir, 'index.json');
    let index: IndexFile = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    const old = await readFile(indexPath, 'utf8').catch(() => undefined);
    if (old !== undefined) {
      try {
        index = JSON.parse(old) as IndexFile;
        if (!Array.isArray(index.manifests)) throw new Error('no manifests array');
      } catch (e) {
        throw new SlipwayError('ERR_INVALID_ARGUMENT', `${indexPath} exists and is not an OCI image index: ${(e as Error).message}`, { hint: 'export into an empty or new directory', cause: e });
      }
    }
    index.manifests = [...index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag), indexEntry(img, tag)];
    const tmp = `${indexPath}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(index));
    await rename(tmp, indexPath);
  } catch (e) {
    if (SlipwayError.is(e)) throw e;
    throw new SlipwayError('ERR_STORE', `cannot write the OCI layout ${dir}: ${(e as Error).message}`, { hint: 'check the directory is writable and has room', cause: e });
  }
  return `oci-layout:${dir}:${tag}`;
}

/** Writes one tar entry, streaming a file or a buffer, and resolves when the pack has taken it. */
async function entry(p: Pack, name: string, from: { bytes: Buffer } | { file: string; size: number }): Promise<void> {
  const header = { name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };
  if ('bytes' in from) return tarEntry(p, { ...header, size: from.bytes.length }, from.bytes).done;
  const { sink, done } = tarEntry(p, { ...header, size: from.size });
  await Promise.all([pipeline(createReadStream(from.file, { highWaterMark: 1 << 20 }), sink), done]);
}

async function writeDockerArchive(img: OutgoingImage, file: string, signal?: AbortSignal): Promise<string> {
  const tmp = `${file}.tmp-${process.pid}`;
  const p = tarPack();
  const out = pipeline(p, createWriteStream(tmp), { signal });
  const failed = out.catch((e: unknown) => e);
  const parsed = parseReference(img.ref);
  const familiar = familiarString(parsed);
  const repoTag = parsed.digest ? undefined : familiar;
  try {
    const dirs = ['blobs/', 'blobs/sha256/'];
    for (const d of dirs) {
      await tarEntry(p, { name: d, type: 'directory', mode: 0o755, mtime: new Date(0) }).done;
    }
    const blob = (digest: string): string => `blobs/sha256/${digest.slice(7)}`;
    const seen = new Set<string>();
    for (const l of img.layers) {
      if (seen.has(l.desc.digest)) continue;
      seen.add(l.desc.digest);
      await entry(p, blob(l.desc.digest), { file: l.path, size: l.desc.size });
    }
    await entry(p, blob(img.config.digest), img.config);
    await entry(p, blob(img.manifest.digest), img.manifest);
    const index: IndexFile = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [indexEntry(img, tagOf(img.ref))] };
    await entry(p, 'index.json', { bytes: Buffer.from(JSON.stringify(index)) });
    await entry(p, 'oci-layout', { bytes: Buffer.from('{"imageLayoutVersion":"1.0.0"}') });
    // Docker's own manifest: what `docker load` (and older tools) read; paths into the OCI blobs.
    const manifest = [{ Config: blob(img.config.digest), RepoTags: repoTag ? [repoTag] : [], Layers: img.layers.map((l) => blob(l.desc.digest)) }];
    await entry(p, 'manifest.json', { bytes: Buffer.from(JSON.stringify(manifest)) });
    if (repoTag) {
      const i = repoTag.lastIndexOf(':');
      const repositories = { [repoTag.slice(0, i)]: { [repoTag.slice(i + 1)]: img.config.digest.slice(7) } };
      await entry(p, 'repositories', { bytes: Buffer.from(JSON.stringify(repositories)) });
    }
    p.finalize();
    const err = await failed;
    if (err) throw err;
    await rename(tmp, file);
  } catch (e) {
    p.destroy();
    await failed;
    await rm(tmp, { force: true });
    if (SlipwayError.is(e)) throw e;
    if (signal?.aborted) throw new SlipwayError('ERR_ABORTED', `the export to ${file} was aborted`, { cause: signal.reason });
    throw new SlipwayError('ERR_STORE', `cannot write the docker archive ${file}: ${(e as Error).message}`, { hint: 'check the directory is writable and has room', cause: e });
  }
  return `docker-archive:${file}`;
}

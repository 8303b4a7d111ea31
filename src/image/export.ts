/**
 * `exportImage()`: writes a stored image (built, committed or pulled) out of the store, as an OCI image layout
 * directory (`oci-layout:<dir>[:tag]`) or a `docker load`-compatible tarball (`docker-archive:<file.tar>`: the
 * layout Docker ≥ 25 saves, an OCI layout plus `manifest.json` and `repositories`). Layers leave gzip-compressed.
 */
import { createReadStream, createWriteStream, constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rename, rm, stat, writeFile, copyFile } from 'node:fs/promises';
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
 * @throws {@link SlipwayError} `ERR_INVALID_ARGUMENT` (another destination form, or a layout directory another user
 *   owns or every user may write, or whose `blobs` is a link), `ERR_IMAGE_NOT_PRESENT` (the store
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

/**
 * A temp name beside `file` that nobody can guess: with an exclusive create (`wx`, `COPYFILE_EXCL`), a link someone
 * planted there is an error, never followed (`${file}.tmp-<pid>` was: another user's symlink made the export overwrite
 * any file its caller may write).
 */
function tempName(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function unsafeDestination(dir: string, why: string): SlipwayError {
  return new SlipwayError('ERR_INVALID_ARGUMENT', `cannot export into ${dir}: ${why}`, {
    hint: 'export into a directory you own that other users cannot write, or into a new path (it is created)',
  });
}

/**
 * The layout directory to write into, made if missing, as its real path: it must be a directory this user owns that
 * no other user may write, under a parent where others cannot swap it (world-writable without the sticky bit), and its
 * `blobs/sha256` real directories of ours. Someone else's dir (an attacker who made `/tmp/app-oci` first) could hold,
 * or later get, links that the export would write through.
 */
async function layoutDir(dir: string): Promise<string> {
  const uid = process.getuid?.();
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const real = await realpath(dir);
  const st = await stat(real);
  if (!st.isDirectory()) throw unsafeDestination(dir, 'it is not a directory');
  if (uid !== undefined && st.uid !== uid) throw unsafeDestination(dir, `it is owned by uid ${st.uid}, not by us (uid ${uid})`);
  if (st.mode & 0o002) throw unsafeDestination(dir, 'it is writable by every user');
  const parent = await stat(path.dirname(real));
  if ((parent.mode & 0o002) && !(parent.mode & 0o1000)) throw unsafeDestination(dir, `its parent ${path.dirname(real)} is writable by every user and not sticky`);
  let sub = real;
  for (const name of ['blobs', 'sha256']) {
    sub = path.join(sub, name);
    await mkdir(sub, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
    const s = await lstat(sub);
    if (!s.isDirectory()) throw unsafeDestination(dir, `${path.relative(real, sub)} is ${s.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`);
    if (uid !== undefined && s.uid !== uid) throw unsafeDestination(dir, `${path.relative(real, sub)} is owned by uid ${s.uid}, not by us (uid ${uid})`);
  }
  return real;
}

async function writeOciLayout(img: OutgoingImage, asked: string, tag: string): Promise<string> {
  let dir = asked;
  try {
    dir = await layoutDir(asked);
    const blobs = path.join(dir, 'blobs', 'sha256');
    const put = async (digest: string, from: { bytes: Buffer } | { file: string }): Promise<void> => {
      const dest = path.join(blobs, digest.slice(7));
      const size = 'bytes' in from ? from.bytes.length : (await stat(from.file)).size;
      if ((await stat(dest).catch(() => undefined))?.size === size) return; // content-addressed: already there
      const tmp = tempName(dest);
      if ('bytes' in from) await writeFile(tmp, from.bytes, { flag: 'wx' });
      else await copyFile(from.file, tmp, fsc.COPYFILE_EXCL);
      await rename(tmp, dest);
    };
    for (const l of img.layers) await put(l.desc.digest, { file: l.path });
    await put(img.config.digest, img.config);
    await put(img.manifest.digest, img.manifest);
    const layoutFile = path.join(dir, 'oci-layout');
    const layoutTmp = tempName(layoutFile);
    await writeFile(layoutTmp, '{"imageLayoutVersion":"1.0.0"}', { flag: 'wx' });
    await rename(layoutTmp, layoutFile);
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
    const tmp = tempName(indexPath);
    await writeFile(tmp, JSON.stringify(index), { flag: 'wx' });
    await rename(tmp, indexPath);
  } catch (e) {
    if (SlipwayError.is(e)) throw e;
    throw new SlipwayError('ERR_STORE', `cannot write the OCI layout ${asked}: ${(e as Error).message}`, { hint: 'check the directory is writable and has room', cause: e });
  }
  return `oci-layout:${asked}:${tag}`;
}

/** Writes one tar entry, streaming a file or a buffer, and resolves when the pack has taken it. */
async function entry(p: Pack, name: string, from: { bytes: Buffer } | { file: string; size: number }): Promise<void> {
  const header = { name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };
  if ('bytes' in from) return tarEntry(p, { ...header, size: from.bytes.length }, from.bytes).done;
  const { sink, done } = tarEntry(p, { ...header, size: from.size });
  await Promise.all([pipeline(createReadStream(from.file, { highWaterMark: 1 << 20 }), sink), done]);
}

async function writeDockerArchive(img: OutgoingImage, file: string, signal?: AbortSignal): Promise<string> {
  const tmp = tempName(file);
  const p = tarPack();
  const out = pipeline(p, createWriteStream(tmp, { flags: 'wx' }), { signal });
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

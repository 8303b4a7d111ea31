/**
 * Streams one layer (gzip, zstd or plain tar, sniffed by magic bytes) into a directory in overlayfs format:
 * whiteouts become 0:0 character devices, opaque markers become `user.overlay.opaque=y`. Verifies the
 * compressed digest and the diff id while streaming. Layer tars are hostile input: nothing is ever written
 * outside the layer directory, and on any failure the directory is removed.
 *
 * Ownership is not applied here (rootless Node cannot chown to subordinate ids): entries owned by someone
 * other than 0:0, or with setuid/setgid/sticky bits, are listed in an ownership file for an injected
 * {@link ApplyOwnership} (the keeper's chown list in production).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmodSync, closeSync, fchmodSync, ftruncateSync, futimesSync, linkSync, lutimesSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { access, chmod, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { LayerTarParser, TarFormatError, type LayerTarHeader as Headers, type LayerTarSink } from './layer-tar.js';
import { logger } from '../internal/debug.js';
import { SlipwayError } from '../errors.js';
import type { BlobWriter } from './store.js';
import { isDiskFull, removeTree } from './fs-tree.js';
import { isZeros } from '../internal/disk-space.js';
import { lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO, SyscallError } from './syscalls.js';

const debug = logger('image:unpack');

/**
 * Applies ownership and special mode bits to entries of a finished layer directory. `listFile` holds
 * NUL-separated records `relpath\0uid\0gid\0mode-octal\0` (relpath `.` is the layer root). Implementations
 * must lchown (never follow symlinks) and then chmod non-symlinks to the mode, because chown clears
 * setuid/setgid.
 */
export type ApplyOwnership = (layerDir: string, listFile: string) => Promise<void>;

/** One record of an ownership list. */
export interface OwnershipRecord {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

/** Parses an ownership list file's contents. */
export function parseOwnershipList(buf: Buffer | string): OwnershipRecord[] {
  const parts = buf.toString('utf8').split('\0');
  const out: OwnershipRecord[] = [];
  for (let i = 0; i + 3 < parts.length; i += 4) {
    out.push({ path: parts[i]!, uid: Number(parts[i + 1]), gid: Number(parts[i + 2]), mode: parseInt(parts[i + 3]!, 8) });
  }
  return out;
}

/**
 * The in-process ownership applier: `lchown` when running as root (skipped with a debug note otherwise),
 * then `chmod` for non-symlinks. Paths are re-checked to stay inside the layer.
 */
export const localApplyOwnership: ApplyOwnership = async (layerDir, listFile) => {
  const records = parseOwnershipList(await readFile(listFile));
  const root = process.getuid?.() === 0;
  const { lstat, lchown } = await import('node:fs/promises');
  for (const r of records) {
    const p = path.join(layerDir, r.path);
    if (p !== layerDir && !p.startsWith(layerDir + path.sep)) continue;
    if (root) await lchown(p, r.uid, r.gid);
    else if (r.uid !== 0 || r.gid !== 0) debug('not root: cannot chown %s to %d:%d', r.path, r.uid, r.gid);
    const st = await lstat(p);
    if (!st.isSymbolicLink()) await chmod(p, r.mode);
  }
};

/** Options for {@link unpackLayer}. */
export interface UnpackOptions {
  /** The compressed (or plain) layer bytes. */
  source: AsyncIterable<Buffer>;
  /** An empty directory to unpack into; removed on failure. */
  dir: string;
  /** Expected digest of the bytes in `source` (the descriptor digest); verified when given. */
  digest?: string | undefined;
  /** Expected sha256 of the uncompressed tar (the config's diff id); verified when given. */
  diffId?: string | undefined;
  /** Expected size of `source`; verified when given. */
  size?: number | undefined;
  /** Also write the source bytes here (the blob store); aborted on failure, committed by the caller. */
  blobWriter?: BlobWriter | undefined;
  /** Where to write the ownership list (outside `dir`). */
  ownershipListPath: string;
  /**
   * Applies the ownership list. `'defer'` leaves the list file in place and returns its path in
   * {@link UnpackResult.ownershipList} for the caller to apply (used across threads).
   * @defaultValue {@link localApplyOwnership}
   */
  applyOwnership?: ApplyOwnership | 'defer' | undefined;
  /** Called with the number of source bytes consumed so far. */
  onBytes?: ((n: number) => void) | undefined;
  /** Xattr namespace for overlay markers. @defaultValue `user.overlay.` (overlay mounted with userxattr) */
  overlayXattrPrefix?: string;
  /** A label for messages (the layer digest). */
  label?: string;
  signal?: AbortSignal | undefined;
  /** Filled with where the time went (for the debug log); see {@link UnpackStats}. */
  stats?: UnpackStats | undefined;
  /**
   * `false` when the caller hashes and counts the source itself (the threaded unpacker does it on its own thread):
   * the result's `digest` is then empty, and `digest`, `size` and `blobWriter` should be left unset.
   * @defaultValue true
   */
  hashSource?: boolean | undefined;
  /**
   * The `layerExpansionLimit` setting: the layer may write (its tar bytes less the zero chunks left as holes) at
   * most {@link EXPANSION_FREE} plus this many times its compressed bytes; past it `ERR_LAYER_TOO_LARGE`.
   * @defaultValue Infinity (no bound)
   */
  expansionLimit?: number | undefined;
  /** What the layer may write whatever its compression. @defaultValue {@link EXPANSION_FREE} */
  expansionFree?: number | undefined;
}

/** What any layer may write whatever its compression (a small layer's headers alone expand a hundredfold). */
export const EXPANSION_FREE = 1 << 30;

/**
 * Where one layer's unpack spent its time, in ms (wall clock of the unpacking thread), for `DEBUG=slipway:image:unpack`.
 * `input` waiting for compressed bytes (the download, or the main thread), `blob` writing the compressed copy,
 * `data` waiting for the next uncompressed bytes of an entry (inflate and tar parsing), `fs` creating and writing
 * files (the syscalls), `dirs` the final directory modes and times.
 */
export interface UnpackStats { input: number; blob: number; data: number; fs: number; dirs: number; total: number }

/** A zeroed {@link UnpackStats}. */
export const newUnpackStats = (): UnpackStats => ({ input: 0, blob: 0, data: 0, fs: 0, dirs: 0, total: 0 });

/** What was unpacked. */
export interface UnpackResult {
  digest: string;
  diffId: string;
  size: number;
  compression: 'gzip' | 'zstd' | 'none';
  entries: number;
  /** With `applyOwnership: 'defer'`: the ownership list still to apply (absent when nothing needs it). */
  ownershipList?: string;
}

/** Detects the compression from the first bytes (containers/image pkg/compression). */
export function sniffCompression(head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  return 'none';
}

async function findOnPath(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      await access(p, fsc.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const gz = zlib.createGunzip({ chunkSize: 512 * 1024 });
  const pump = pipeline(Readable.from(src), gz);
  pump.catch(() => {});
  for await (const c of gz) yield c as Buffer;
  await pump;
}

async function* unzstd(src: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  const native = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
  if (native) {
    const z = native();
    const pump = pipeline(Readable.from(src), z);
    pump.catch(() => {});
    for await (const c of z as unknown as AsyncIterable<Buffer>) yield c;
    await pump;
    return;
  }
  const bin = await findOnPath('zstd');
  if (!bin) {
    throw new SlipwayError('ERR_UNPACK', `layer ${label} is zstd-compressed and this Node has no zstd decoder`, {
      hint: 'install the zstd command (apt-get install zstd / dnf install zstd / apk add zstd) or use Node ≥ 22.15',
    });
  }
  const child = spawn(bin, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  const pump = pipeline(Readable.from(src), child.stdin);
  pump.catch(() => {});
  let ok = false;
  try {
    for await (const c of child.stdout) yield c as Buffer;
    await pump;
    const code = await exited;
    if (code !== 0) throw new SlipwayError('ERR_UNPACK', `zstd failed on layer ${label} (exit ${code}): ${stderr.trim()}`, { hint: 'the layer is corrupt; pull again' });
    ok = true;
  } finally {
    if (!ok) child.kill('SIGKILL');
  }
}

/** Removes a directory tree of this layer (a later entry replacing it), making unwritable dirs writable if needed. */
function removeTreeSync(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    const walk = (d: string): void => {
      try {
        chmodSync(d, 0o700);
      } catch {
        /* best effort */
      }
      let list: import('node:fs').Dirent[] = [];
      try {
        list = readdirSync(d, { withFileTypes: true });
      } catch {
        /* best effort */
      }
      for (const e of list) if (e.isDirectory()) walk(path.join(d, e.name));
    };
    walk(p);
    rmSync(p, { recursive: true, force: true });
  }
}

/** One NUL-separated ownership record. */
function ownerRecord(rel: string, uid: number, gid: number, mode: number): string {
  return [rel || '.', String(uid), String(gid), mode.toString(8), ''].join('\0');
}

/** The process umask, read once (modes it would strip get an explicit fchmod). */
const UMASK = process.umask();

interface DirMeta { mode: number; mtime: Date }
type Kind = 'dir' | 'file' | 'symlink' | 'other';

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';
const WH_META_PREFIX = '.wh..wh.';

/**
 * Unpacks one layer into `opts.dir` in overlay format and verifies digest, size and diff id.
 * @throws {@link SlipwayError} `ERR_UNPACK_UNSAFE_PATH` naming the entry; `ERR_DIGEST_MISMATCH`; `ERR_UNPACK`.
 */
export async function unpackLayer(opts: UnpackOptions): Promise<UnpackResult> {
  const label = opts.label ?? opts.digest ?? 'layer';
  const root = path.resolve(opts.dir);
  const xattrPrefix = opts.overlayXattrPrefix ?? 'user.overlay.';
  const compHash = createHash('sha256');
  const hashSource = opts.hashSource !== false;
  const diffHash = createHash('sha256');
  let compBytes = 0;
  let entries = 0;
  let compression: UnpackResult['compression'] = 'none';
  const kinds = new Map<string, Kind>([['', 'dir']]);
  const dirMeta = new Map<string, DirMeta>();
  const owners: string[] = [];
  const stats = opts.stats;
  const started = stats ? performance.now() : 0;

  const unsafe = (name: string, reason: string): SlipwayError =>
    new SlipwayError('ERR_UNPACK_UNSAFE_PATH', `layer ${label}: entry ${JSON.stringify(name)} ${reason}`, {
      hint: 'the image is malformed or malicious; do not use it',
    });

  /** Normalizes an entry name to a relative path inside the layer, or throws. */
  const normalize = (name: string, forEntry: string): string => {
    if (name.includes('\0')) throw unsafe(forEntry, 'contains a NUL byte');
    // Docker strips leading slashes; "." components are dropped; ".." is never allowed.
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw unsafe(forEntry, 'contains ".." (path traversal)');
    return parts.join('/');
  };
  const abs = (rel: string): string => (rel === '' ? root : path.join(root, rel));

  /** Makes sure every parent of `rel` is a real directory of this layer (creating missing ones). */
  const ensureParents = (rel: string, entryName: string): void => {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      const k = kinds.get(cur);
      if (k === 'dir') continue;
      if (k === 'symlink') throw unsafe(entryName, `goes through the symlink "${cur}"`);
      if (k !== undefined) throw unsafe(entryName, `has the non-directory "${cur}" as a parent`);
      mkdirSync(abs(cur), { mode: 0o755 });
      kinds.set(cur, 'dir');
    }
  };

  /** Removes whatever this layer already has at `rel` (later entries win). */
  const clear = (rel: string, keepDir: boolean): void => {
    const k = kinds.get(rel);
    if (k === undefined || (k === 'dir' && keepDir)) return;
    if (rel === '') throw unsafe('.', 'replaces the layer root');
    if (k === 'dir') {
      removeTreeSync(abs(rel));
      for (const key of [...kinds.keys()]) if (key.startsWith(`${rel}/`)) kinds.delete(key);
      for (const key of [...dirMeta.keys()]) if (key === rel || key.startsWith(`${rel}/`)) dirMeta.delete(key);
    } else {
      unlinkSync(abs(rel));
    }
    kinds.delete(rel);
  };

  const recordOwner = (rel: string, h: Headers): void => {
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const mode = (h.mode ?? 0) & 0o7777;
    if (uid !== 0 || gid !== 0 || (mode & 0o7000) !== 0) owners.push(ownerRecord(rel, uid, gid, mode));
  };

  const setXattrs = (rel: string, h: Headers): void => {
    const pax = h.pax as Record<string, string> | undefined;
    if (!pax) return;
    for (const [k, v] of Object.entries(pax)) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const name = k.slice('SCHILY.xattr.'.length);
      // A layer must not forge overlay metadata (opaque/redirect/metacopy) of its own.
      if (/^(user|trusted)\.overlay\./.test(name)) {
        debug('%s: ignoring overlay xattr %s', rel, name);
        continue;
      }
      if (v.includes('\ufffd')) {
        debug('%s: xattr %s has a binary value that tar-stream decoded lossily; skipped', rel, name);
        continue;
      }
      try {
        lsetxattr(abs(rel), name, Buffer.from(v, 'utf8'));
      } catch (e) {
        debug('%s: cannot set xattr %s: %s', rel, name, (e as Error).message);
      }
    }
  };

  /** The file being written (closed on failure). */
  let openFd = -1;
  /** Bytes of file data left as holes (not written), and of the tar read: the difference is what the layer wrote. */
  let holes = 0;
  let plainBytes = 0;
  const expansionLimit = opts.expansionLimit ?? Infinity;
  const expansionFree = opts.expansionFree ?? EXPANSION_FREE;
  const writeFileEntry = (rel: string, h: Headers): LayerTarSink => {
    // Synchronous syscalls on purpose: a layer has thousands of small files, and a threadpool round trip
    // per open/write/chmod/utimes/close costs more than the syscalls themselves (measured: 2-3x slower).
    const mode = (h.mode ?? 0o644) & 0o777;
    const fd = openSync(abs(rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
    openFd = fd;
    // Chunks of zeros (4 KiB or more) are skipped, not written: a layer's file of zeros (gzip makes GiBs of
    // them a few MiB) stays a hole instead of filling the store; Docker writes every zero.
    let at = 0;
    let holeAtEnd = false;
    return {
      data: (chunk) => {
        holeAtEnd = chunk.length >= 4096 && isZeros(chunk);
        if (holeAtEnd) holes += chunk.length;
        else {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off, at + off);
        }
        at += chunk.length;
      },
      end: () => {
        try {
          if (holeAtEnd) ftruncateSync(fd, at);
          if ((mode & UMASK) !== 0) fchmodSync(fd, mode);
          const mt = h.mtime ?? new Date(0);
          futimesSync(fd, mt, mt);
        } finally {
          openFd = -1;
          closeSync(fd);
        }
        setXattrs(rel, h);
        recordOwner(rel, h);
      },
    };
  };

  /** Acts on one entry; returns the sink for a file's data (other entries' data is skipped). */
  const handleEntry = (h: Headers): LayerTarSink | undefined => {
    entries++;
    const name = h.name;
    const rel = normalize(name, name);
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    const mtime = h.mtime ?? new Date(0);

    if (base.startsWith(WH_PREFIX)) {
      const parent = rel.slice(0, Math.max(0, rel.length - base.length - 1));
      if (parent !== '') ensureParents(`${parent}/x`, name);
      if (base === WH_OPAQUE) {
        lsetxattr(abs(parent), `${xattrPrefix}opaque`, Buffer.from('y'));
        return;
      }
      if (base.startsWith(WH_META_PREFIX)) {
        debug('skipping AUFS metadata %s', name);
        return;
      }
      const target = base.slice(WH_PREFIX.length);
      if (target === '' || target === '.' || target === '..') throw unsafe(name, 'is a whiteout of an invalid name');
      const targetRel = parent ? `${parent}/${target}` : target;
      // A whiteout hides lower layers only; if this layer has the path, that entry already hides them.
      if (kinds.has(targetRel)) return;
      mknod(abs(targetRel), S_IFCHR, 0n);
      kinds.set(targetRel, 'other');
      if ((h.uid ?? 0) !== 0 || (h.gid ?? 0) !== 0) owners.push(ownerRecord(targetRel, h.uid ?? 0, h.gid ?? 0, 0));
      return;
    }

    if (rel !== '') ensureParents(rel, name);

    switch (h.type) {
      case 'directory': {
        clear(rel, true);
        if (!kinds.has(rel)) {
          mkdirSync(abs(rel), { mode: 0o755 });
          kinds.set(rel, 'dir');
        }
        dirMeta.set(rel, { mode: (h.mode ?? 0o755) & 0o777, mtime });
        setXattrs(rel, h);
        recordOwner(rel, h);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        clear(rel, false);
        kinds.set(rel, 'file');
        return writeFileEntry(rel, h);
      }
      case 'symlink': {
        clear(rel, false);
        symlinkSync(h.linkname ?? '', abs(rel));
        kinds.set(rel, 'symlink');
        try {
          lutimesSync(abs(rel), mtime, mtime);
        } catch (e) {
          debug('%s: lutimes: %s', rel, (e as Error).message);
        }
        setXattrs(rel, h);
        if ((h.uid ?? 0) !== 0 || (h.gid ?? 0) !== 0) owners.push(ownerRecord(rel, h.uid ?? 0, h.gid ?? 0, 0o777));
        return;
      }
      case 'link': {
        const target = normalize(h.linkname ?? '', name);
        if (target === '') throw unsafe(name, 'is a hardlink to the layer root');
        const tparts = target.split('/');
        for (let i = 1; i < tparts.length; i++) {
          const pk = kinds.get(tparts.slice(0, i).join('/'));
          if (pk === 'symlink') throw unsafe(name, `is a hardlink through the symlink "${tparts.slice(0, i).join('/')}"`);
          if (pk !== 'dir') throw unsafe(name, `is a hardlink to ${JSON.stringify(h.linkname)}, which is not in this layer`);
        }
        const tk = kinds.get(target);
        if (tk === undefined) throw unsafe(name, `is a hardlink to ${JSON.stringify(h.linkname)}, which is not in this layer`);
        if (tk === 'dir') throw unsafe(name, `is a hardlink to the directory ${JSON.stringify(h.linkname)}`);
        if (target === rel) return;
        clear(rel, false);
        linkSync(abs(target), abs(rel));
        kinds.set(rel, tk);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        clear(rel, false);
        const type = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        try {
          mknod(abs(rel), type | ((h.mode ?? 0o644) & 0o777), makedev(h.devmajor ?? 0, h.devminor ?? 0));
        } catch (e) {
          if (e instanceof SyscallError && (e.code === 'EPERM' || e.code === 'EACCES')) {
            debug('%s: cannot create %s %d:%d here (%s); skipped', rel, h.type, h.devmajor, h.devminor, e.code);
            return;
          }
          throw e;
        }
        kinds.set(rel, 'other');
        chmodSync(abs(rel), (h.mode ?? 0o644) & 0o777);
        utimesSync(abs(rel), mtime, mtime);
        recordOwner(rel, h);
        return;
      }
      default:
        debug('%s: skipping entry of type %s', rel, h.type);
    }
  };

  /**
   * The first local write failure (ENOSPC, EIO…). Once the disk refuses a write the streams around it break
   * too ("Premature close"); this is the error worth reporting.
   */
  let localError: unknown;
  const noteLocal = (e: unknown): void => {
    if (localError === undefined && (e instanceof SyscallError || typeof (e as NodeJS.ErrnoException)?.syscall === 'string')) localError = e;
  };

  const source = opts.source;
  async function* tapped(): AsyncGenerator<Buffer> {
    let w = stats ? performance.now() : 0;
    for await (const c of source) {
      if (stats) stats.input += performance.now() - w;
      if (opts.signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'the pull was aborted', { cause: opts.signal.reason });
      if (hashSource) compHash.update(c);
      compBytes += c.length;
      if (opts.size !== undefined && compBytes > opts.size) {
        throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: more than the ${opts.size} bytes the manifest announced`, { hint: 'the registry serves different content than the manifest describes' });
      }
      if (opts.blobWriter) {
        const b = stats ? performance.now() : 0;
        try {
          await opts.blobWriter.write(c);
        } catch (e) {
          noteLocal(e);
          throw e;
        }
        if (stats) stats.blob += performance.now() - b;
      }
      opts.onBytes?.(compBytes);
      yield c;
      if (stats) w = performance.now();
    }
  }

  try {
    const it = tapped()[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let headLen = 0;
    while (headLen < 4) {
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
      headLen += r.value.length;
    }
    compression = sniffCompression(Buffer.concat(head));
    async function* rest(): AsyncGenerator<Buffer> {
      yield* head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    const plain = compression === 'gzip' ? gunzip(rest()) : compression === 'zstd' ? unzstd(rest(), label) : rest();
    // Inflated chunks go straight through the tar parser into the files: every entry is handled synchronously
    // inside push(), its data written from subarrays of the chunk.
    const parser = new LayerTarParser(handleEntry);
    let w = stats ? performance.now() : 0;
    for await (const c of plain) {
      if (stats) {
        const at = performance.now();
        stats.data += at - w;
        w = at;
      }
      diffHash.update(c);
      parser.push(c);
      plainBytes += c.length;
      // compBytes counts what the decompressor was given, a little ahead of what it gave: never an early refusal.
      if (plainBytes - holes > expansionFree + expansionLimit * compBytes) {
        throw new SlipwayError('ERR_LAYER_TOO_LARGE', `layer ${label} expands past ${+(expansionFree / 2 ** 30).toFixed(3)} GiB plus ${expansionLimit} times its ${compBytes} compressed bytes (the layerExpansionLimit setting): a compression bomb`, {
          hint: 'do not use this image; if it is yours and really this compressible, raise SLIPWAY_LAYER_EXPANSION_LIMIT (or layerExpansionLimit in slipway.config.json; Infinity turns the bound off)',
        });
      }
      if (stats) {
        const at = performance.now();
        stats.fs += at - w;
        w = at;
      }
    }
    parser.end();

    const digest = hashSource ? `sha256:${compHash.digest('hex')}` : '';
    const diffId = `sha256:${diffHash.digest('hex')}`;
    if (opts.size !== undefined && compBytes !== opts.size) {
      throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: got ${compBytes} bytes, the manifest says ${opts.size}`, { hint: 'the download was cut short or the registry is inconsistent; pull again' });
    }
    if (opts.digest !== undefined && digest !== opts.digest) {
      throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: content digest is ${digest}`, { hint: 'the registry served corrupt content; pull again' });
    }
    if (opts.diffId !== undefined && diffId !== opts.diffId) {
      throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: uncompressed digest ${diffId} differs from the config's diff id ${opts.diffId}`, { hint: 'the image is inconsistent; rebuild or re-push it' });
    }

    // Directory modes and times last, deepest first, so writing children did not disturb them.
    const dirsAt = stats ? performance.now() : 0;
    const dirs = [...dirMeta.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, m] of dirs) {
      chmodSync(abs(rel), m.mode);
      utimesSync(abs(rel), m.mtime, m.mtime);
    }
    if (stats) {
      stats.dirs = performance.now() - dirsAt;
      stats.total = performance.now() - started;
    }
    if (owners.length) {
      await writeFile(opts.ownershipListPath, owners.join(''));
      if (opts.applyOwnership === 'defer') return { digest, diffId, size: compBytes, compression, entries, ownershipList: opts.ownershipListPath };
      try {
        await (opts.applyOwnership ?? localApplyOwnership)(root, opts.ownershipListPath);
      } finally {
        await rm(opts.ownershipListPath, { force: true });
      }
    }
    return { digest, diffId, size: compBytes, compression, entries };
  } catch (thrown) {
    // Noted before anything is awaited: the decompressor may still be reading ahead, and its blob write after the
    // abort below (EBADF) is not the error to report.
    noteLocal(thrown);
    await opts.blobWriter?.abort().catch(() => {});
    if (openFd >= 0) {
      try {
        closeSync(openFd);
      } catch {
        /* already failing */
      }
      openFd = -1;
    }
    await removeTree(root).catch(() => {});
    await rm(opts.ownershipListPath, { force: true }).catch(() => {});
    const e = localError ?? thrown;
    if (isDiskFull(e)) {
      const where = (e as NodeJS.ErrnoException).path;
      throw new SlipwayError('ERR_STORE_FULL', `layer ${label}: no space left on the device${where ? ` writing ${where}` : ''}`, {
        hint: 'free space (`slipway prune` removes what no image needs) or set SLIPWAY_CACHE_DIR to a larger filesystem', cause: e,
      });
    }
    if (SlipwayError.is(e)) throw e;
    if (e instanceof SyscallError) {
      throw new SlipwayError('ERR_UNPACK', `layer ${label}: ${e.message}`, { cause: e, hint: e.code === 'EPERM' ? 'this kernel or filesystem refused an overlay whiteout or xattr; Linux ≥ 5.8 and a filesystem with user xattrs are needed' : undefined });
    }
    const msg = (e as Error).message ?? String(e);
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TarFormatError || code?.startsWith('Z_') || /incorrect header|invalid|unexpected end|tar/i.test(msg)) {
      throw new SlipwayError('ERR_UNPACK', `layer ${label} is not a valid (compressed) tar: ${msg}`, { hint: 'the blob is corrupt or not a layer; pull again', cause: e });
    }
    throw e;
  }
}

/**
 * The content store: compressed blobs by digest (`blobs/sha256/<hex>`, OCI-layout-like), unpacked layers by
 * mapping and chain id (`layers/<mappingKey>/<chainIdHex>/`), and a reference index (`refs/`).
 * Every write goes to a temp name under `tmp/` and is renamed into place after verification, so a killed
 * pull leaves nothing a later pull would trust; cross-process `flock` locks stop two pulls doing the same
 * work twice.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { closeSync, lstatSync, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { syncFileWriter, type BlobWriter } from './sync-file-writer.js';
import { logger } from '../internal/debug.js';
import { SlipwayError } from '../errors.js';
import { ensurePrivateDir } from '../internal/private-dir.js';
import { freeSpaceOf } from '../internal/disk-space.js';
import { configValue } from '../config/index.js';
import { funlock, setTopDirFlag, tryFlock } from './syscalls.js';
import { isExt4WithoutJournal } from './ext4-journal.js';
import { isDiskFull } from './fs-tree.js';

export { isDiskFull, removeTree } from './fs-tree.js';

const debug = logger('image:store');

/**
 * The store root: the `storeDir` setting (`$SLIPWAY_CACHE_DIR`, a config file), else `$XDG_CACHE_HOME/slipway`, else
 * `~/.cache/slipway`.
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  return configValue('storeDir', env);
}

function hexOf(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new SlipwayError('ERR_STORE', `not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1]!;
}

export const MAPPING_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export type { BlobWriter } from './sync-file-writer.js';

/** A held lock; release is idempotent. */
export interface Lock {
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Content store rooted at a directory. */
export class ImageStore {
  readonly root: string;
  #ready: Promise<void> | undefined;
  readonly #removeTree: ((p: string) => Promise<void>) | undefined;

  /**
   * @param opts.removeTree - Removes a tree this process may not be able to delete itself: rootless,
   *   layer files belong to subordinate ids, which only the keeper (inside the user namespace) can remove.
   *   Used for leftovers that `rm -rf` could not delete. @defaultValue none (such leftovers stay)
   */
  constructor(root: string = defaultStoreRoot(), opts: { removeTree?: (p: string) => Promise<void> } = {}) {
    this.root = path.resolve(root);
    this.#removeTree = opts.removeTree;
  }

  /** Creates the directory skeleton and sweeps temp files left by dead processes (once per instance). */
  init(): Promise<void> {
    this.#ready ??= (async () => {
      // Layers hold whatever modes and device nodes an image brings (a 0666 block device, 0777
      // dirs): only a 0700 root keeps other users of the host from reaching them.
      ensurePrivateDir(this.root, 'ERR_STORE', `remove ${this.root} if it is not yours, or set SLIPWAY_CACHE_DIR to a directory only you can write`);
      try {
        for (const d of ['blobs/sha256', 'layers', 'refs', 'tmp', 'locks']) await mkdir(path.join(this.root, d), { recursive: true, mode: 0o700 });
        const oci = path.join(this.root, 'blobs', '..', 'oci-layout');
        await writeFile(oci, '{"imageLayoutVersion":"1.0.0"}', { flag: 'wx' }).catch(() => {});
        await writeFile(this.#generationPath(), '', { flag: 'a', mode: 0o600 });
      } catch (e) {
        throw new SlipwayError('ERR_STORE', `cannot create the image store at ${this.root}: ${(e as Error).message}`, {
          hint: 'set SLIPWAY_CACHE_DIR to a writable directory', cause: e,
        });
      }
      this.#placeLayers();
      await this.#sweep();
    })();
    return this.#ready;
  }

  /**
   * Layers are unpacked in `tmp/` (then renamed into `layers/`). On ext4 without a journal (this project's CI VM,
   * many cloud images) a new inode skips every inode of its block group freed in the last 60 s (300 s while the
   * inode table block is not written back), a buffer-cache lookup each: after a large delete (a store or a workspace
   * removed, `slipway prune`) a postgres pull spent a quarter of its CPU in `recently_deleted` and took 31 s instead
   * of 9 s. The TOPDIR flag on `tmp/` makes ext4 place each layer dir (and its files) in an empty block group, away
   * from what was just freed. Only there: on a fresh journaled ext4 the same flag made pulls 1.16-1.29x slower
   * (spreading a layer over groups costs more than it saves where nothing was freed), so a journaled store's `tmp/`
   * has it cleared (stores of the session that set it everywhere). Best effort: other filesystems have no flag.
   */
  #placeLayers(): void {
    const tmp = path.join(this.root, 'tmp');
    let fd: number | undefined;
    try {
      const spread = isExt4WithoutJournal(tmp);
      fd = openSync(tmp, 'r');
      if (setTopDirFlag(fd, spread)) debug('%s the TOPDIR flag on %s (ext4 %s a journal)', spread ? 'set' : 'cleared', tmp, spread ? 'without' : 'with');
    } catch (e) {
      debug('cannot set the TOPDIR flag on %s: %s', tmp, (e as Error).message);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  async #sweep(): Promise<void> {
    const tmp = path.join(this.root, 'tmp');
    let names: string[] = [];
    try {
      names = await readdir(tmp);
    } catch {
      return;
    }
    for (const n of names) {
      const pid = Number(/^[^-]+-(\d+)-/.exec(n)?.[1]);
      if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) {
        debug('sweeping %s left by dead pid %d', n, pid);
        await this.#remove(path.join(tmp, n));
      }
    }
  }

  /**
   * rm -rf, then (when that leaves something, e.g. files a killed rootless pull had already given to
   * subordinate ids) the injected remover. Best effort: what stays is tried again by the next sweep.
   */
  async #remove(p: string): Promise<void> {
    await rm(p, { recursive: true, force: true }).catch(() => {});
    if (!this.#removeTree || !(await this.exists(p))) return;
    await this.#removeTree(p).catch((e: unknown) => debug('cannot remove %s: %s', p, (e as Error).message));
  }

  #generationPath(): string {
    return path.join(this.root, 'generation');
  }

  /**
   * The store's generation stamp: changes whenever a reference record is written or a layer or reference may be
   * going away (writeRef, discardLayer, prune). A process may keep what it resolved from the store (the image
   * cache of `pull()`) while the stamp is the same; other processes' changes bump it too, since the stamp is a
   * file. It is grown one byte per change (`O_APPEND`: atomic, no lock, never smaller), so its size alone
   * orders changes; device, inode and mtime tell a store removed and made again. One stat, synchronous: ~3 µs,
   * where an async stat is a thread-pool round trip. `undefined` when the store has no stamp (not initialised).
   */
  generation(): string | undefined {
    try {
      const st = statSync(this.#generationPath(), { bigint: true });
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return undefined;
    }
  }

  /** Marks a change of the store for every process's caches (see {@link generation}). */
  async bumpGeneration(): Promise<void> {
    await appendFile(this.#generationPath(), '.', { mode: 0o600 });
  }

  /** `blobs/sha256/<hex>`. */
  blobPath(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  /** `layers/<mappingKey>/<chainIdHex>`. */
  layerDir(mappingKey: string, chainId: string): string {
    if (!MAPPING_KEY_RE.test(mappingKey)) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid mappingKey ${JSON.stringify(mappingKey)}`, { hint: 'use letters, digits, ".", "_" or "-"' });
    }
    return path.join(this.root, 'layers', mappingKey, hexOf(chainId));
  }

  async exists(p: string): Promise<boolean> {
    try {
      await stat(p);
      return true;
    } catch {
      return false;
    }
  }

  hasBlob(digest: string): Promise<boolean> {
    return this.exists(this.blobPath(digest));
  }

  hasLayer(mappingKey: string, chainId: string): Promise<boolean> {
    return this.layerReady(mappingKey, chainId);
  }

  /** `layers/<mappingKey>/<chainIdHex>.ok`: the completeness marker, beside the layer (inside, a container would see it). */
  layerMarker(mappingKey: string, chainId: string): string {
    return `${this.layerDir(mappingKey, chainId)}.ok`;
  }

  /**
   * Whether the unpacked layer may be used: its marker (written last, after unpack, ownership and the
   * rename) names this chain id, and the sample files it lists are still there with their sizes. A
   * layer a killed pull or a partial `rm -rf` left behind fails this and is unpacked again, instead of
   * running with files missing ("command not found").
   */
  async layerReady(mappingKey: string, chainId: string): Promise<boolean> {
    const dir = this.layerDir(mappingKey, chainId);
    let m: LayerMarker;
    try {
      m = JSON.parse(await readFile(this.layerMarker(mappingKey, chainId), 'utf8')) as LayerMarker;
    } catch {
      return false;
    }
    if (!validMarker(m, chainId)) return false;
    const root = await lstat(dir).catch(() => undefined);
    if (!root?.isDirectory()) return false;
    for (const s of m.samples) {
      const st = await lstat(path.join(dir, s.path)).catch(() => undefined);
      if (!st?.isFile() || st.size !== s.size) return false;
    }
    return true;
  }

  /**
   * The sample files a ready layer's marker lists (for {@link samplesIntact}), read synchronously; `undefined` when
   * the marker is missing or not this layer's.
   */
  layerSamples(mappingKey: string, chainId: string): LayerSample[] | undefined {
    try {
      const m = JSON.parse(readFileSync(this.layerMarker(mappingKey, chainId), 'utf8')) as LayerMarker;
      return validMarker(m, chainId) ? m.samples : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Moves an unusable layer (no valid marker) out of the way, under the layer lock, so it can be
   * unpacked again; its tree is removed now or, failing that, by a later sweep of `tmp/`.
   */
  async discardLayer(mappingKey: string, chainId: string): Promise<void> {
    const dir = this.layerDir(mappingKey, chainId);
    await this.bumpGeneration();
    await rm(this.layerMarker(mappingKey, chainId), { force: true });
    if (!(await lstat(dir).then(() => true, () => false))) return;
    const aside = this.tempPath(`stale_${hexOf(chainId).slice(0, 12)}`);
    debug('layer %s is incomplete; unpacking it again', chainId);
    try {
      await rename(dir, aside);
      await this.#remove(aside);
      return;
    } catch {
      // A layer root owned by a subordinate id cannot be moved by us (its ".." would change): remove it in place.
    }
    await this.#remove(dir);
    if (await lstat(dir).then(() => true, () => false)) {
      throw new SlipwayError('ERR_STORE', `the incomplete layer ${dir} cannot be removed`, {
        hint: 'run `slipway prune --all` (it removes layers through the keeper, whose user namespace owns their files) and pull again',
      });
    }
  }

  /**
   * Reads a blob into memory and re-verifies its digest (it is small: manifests and configs).
   * @returns undefined when absent or corrupt (a corrupt blob is removed).
   */
  async readBlob(digest: string, maxBytes = 4 << 20): Promise<Buffer | undefined> {
    const p = this.blobPath(digest);
    let b: Buffer;
    try {
      const s = await stat(p);
      if (s.size > maxBytes) return undefined;
      b = await readFile(p);
    } catch {
      return undefined;
    }
    if (`sha256:${createHash('sha256').update(b).digest('hex')}` !== digest) {
      debug('blob %s is corrupt; removing', digest);
      await rm(p, { force: true });
      return undefined;
    }
    return b;
  }

  /** Writes a verified in-memory blob atomically. */
  async writeBlob(digest: string, data: Buffer): Promise<void> {
    const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (got !== digest) throw new SlipwayError('ERR_DIGEST_MISMATCH', `blob content ${got} does not match ${digest}`);
    await this.writeAtomic(this.blobPath(digest), data);
  }

  /** A unique temp path under `tmp/` (same filesystem as the store, name carries our pid for sweeping). */
  tempPath(label: string): string {
    return path.join(this.root, 'tmp', `${label.replace(/[^A-Za-z0-9._]/g, '_').slice(0, 40)}-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  async writeAtomic(dest: string, data: Buffer | string): Promise<void> {
    await this.init();
    const tmp = this.tempPath(path.basename(dest));
    await writeFile(tmp, data);
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(tmp, dest);
  }

  /** Starts writing a blob under a temp name. */
  async blobWriter(digest: string): Promise<BlobWriter> {
    await this.init();
    const dest = this.blobPath(digest);
    const tmp = this.tempPath(`blob_${hexOf(digest).slice(0, 12)}`);
    return syncFileWriter(tmp, () => rename(tmp, dest));
  }

  /** A fresh temp directory for unpacking a layer. */
  async layerTempDir(chainId: string): Promise<string> {
    await this.init();
    const p = this.tempPath(`layer_${hexOf(chainId).slice(0, 12)}`);
    await mkdir(p, { mode: 0o755 });
    return p;
  }

  /** Moves a finished layer into place; if another process won the race, ours is discarded. */
  async commitLayer(tmpDir: string, mappingKey: string, chainId: string): Promise<string> {
    const dest = this.layerDir(mappingKey, chainId);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    const samples = await sampleFiles(tmpDir);
    try {
      await rename(tmpDir, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      await this.#remove(tmpDir);
      return dest;
    }
    // Last: only now is the layer complete (unpacked, ownership applied, in place).
    const marker: LayerMarker = { chainId, samples };
    await this.writeAtomic(this.layerMarker(mappingKey, chainId), JSON.stringify(marker));
    return dest;
  }

  /** Reads a JSON record from `refs/`. */
  async readRef<T>(key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.#refPath(key), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** Writes a JSON record to `refs/` atomically. */
  async writeRef(key: string, value: unknown): Promise<void> {
    await this.writeAtomic(this.#refPath(key), JSON.stringify({ key, ...(value as object) }, null, 1));
    // After the record: a process that sees the new stamp reads the new record.
    await this.bumpGeneration();
  }

  #refPath(key: string): string {
    return path.join(this.root, 'refs', `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  /**
   * Takes an exclusive cross-process lock named `name` (an flock on `locks/<name>`, released automatically if
   * the process dies). Polls while another holder has it.
   */
  async lock(name: string, signal?: AbortSignal): Promise<Lock> {
    await this.init();
    const file = path.join(this.root, 'locks', name.replace(/[^A-Za-z0-9._-]/g, '_'));
    const fd = openSync(file, 'a', 0o644);
    let delay = 10;
    try {
      while (!tryFlock(fd)) {
        if (signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'the pull was aborted while waiting for a store lock', { cause: signal.reason });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(200, delay * 2);
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        try {
          funlock(fd);
        } finally {
          closeSync(fd);
        }
      },
    };
  }
}

/**
 * `ERR_STORE_FULL` for a write into `storeRoot` that ran out of space: names the store, what its
 * filesystem has free now, and the ways out. `cause` is kept.
 */
export function storeFullError(storeRoot: string, what: string, cause: unknown): SlipwayError {
  let free = '';
  try {
    free = `; its filesystem has ${freeSpaceOf(storeRoot)}`;
  } catch {
    /* the hint still names the directory */
  }
  const detail = SlipwayError.is(cause) ? cause.shortMessage : (cause as Error)?.message ?? String(cause);
  return new SlipwayError('ERR_STORE_FULL', `${what}: the image store at ${storeRoot} is full (${detail})${free}`, {
    hint: `make room: \`slipway prune\` removes what no image needs (\`slipway prune --all\` everything), or set SLIPWAY_CACHE_DIR to a filesystem with more space; nothing half-written is kept`,
    cause,
  });
}

/** A regular file of a layer (path relative to it, size), listed in its marker. */
export interface LayerSample { path: string; size: number }

interface LayerMarker {
  chainId: string;
  /** A few regular files of the layer: a tree partly deleted since is noticed. */
  samples: LayerSample[];
}

function validMarker(m: LayerMarker, chainId: string): boolean {
  return m?.chainId === chainId && Array.isArray(m.samples)
    && m.samples.every((s) => typeof s?.path === 'string' && typeof s.size === 'number' && !s.path.split('/').includes('..'));
}

/**
 * Whether a layer directory still holds its marker's sample files with their sizes (synchronous lstats, a few µs
 * each): what `layerReady` checks after the marker, for a layer already known ready, so a tree deleted by hand
 * since (an interrupted `rm -rf`) is noticed without reading the marker again.
 */
export function samplesIntact(dir: string, samples: readonly LayerSample[]): boolean {
  try {
    if (!lstatSync(dir).isDirectory()) return false;
    for (const s of samples) {
      const st = lstatSync(path.join(dir, s.path));
      if (!st.isFile() || st.size !== s.size) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Up to 8 non-empty regular files, breadth first, from directories this process can read. */
async function sampleFiles(root: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const queue = [''];
  for (let visited = 0; queue.length && out.length < 8 && visited < 64; visited++) {
    const rel = queue.shift()!;
    const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      // Names that are not valid UTF-8 do not survive a round trip through a string: skip them.
      if (e.name.includes('\uFFFD')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) queue.push(r);
      else if (e.isFile() && out.length < 8) {
        const st = await lstat(path.join(root, r)).catch(() => undefined);
        if (st?.isFile() && st.size > 0) out.push({ path: r, size: st.size });
      }
    }
  }
  return out;
}


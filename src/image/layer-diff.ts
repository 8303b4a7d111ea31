/**
 * The inverse of the unpacker: turns an overlay upper directory (a container's changes) into a layer tar in
 * Docker's format. Overlay whiteouts (character devices 0/0) become `.wh.<name>` entries, opaque directories
 * (`user.overlay.opaque` or `trusted.overlay.opaque` = `y`) get a `.wh..wh..opq` entry, owners are mapped back
 * from host ids to the container's ids, hard links inside the layer stay hard links, and every timestamp is
 * normalised (so identical changes give identical diff ids). Entries are written depth first, names sorted by
 * their bytes: the same tree always gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { constants, createWriteStream, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Header } from 'tar-stream';

/** A tar header as the layer writer takes it (`mtime`, names and size are filled in). */
export type Headers = Partial<Header> & { name: string };
import { SlipwayError } from '../errors.js';
import { tarEntry } from '../internal/tar-entry.js';
import { lgetxattr } from './syscalls.js';

/** Options for {@link diffUpperDir}. */
export interface LayerDiffOptions {
  /** Host uid → the container's uid (rootless: through the user namespace's map). @defaultValue identity */
  mapUid?: (hostUid: number) => number;
  /** Host gid → the container's gid. @defaultValue identity */
  mapGid?: (hostGid: number) => number;
  /** Leaves out an entry (and, for a directory, everything below it). `rel` has no leading slash. */
  exclude?: (rel: string, st: Stats) => boolean;
  /** The timestamp written for every entry. @defaultValue the Unix epoch */
  mtime?: Date;
}

/** What {@link diffUpperDir} wrote. */
export interface LayerDiff {
  /** sha256 of the tar (the layer's diff id and, uncompressed, its digest). */
  diffId: string;
  size: number;
  /** Entries written (0: the step changed nothing). */
  entries: number;
}

const OPAQUE_XATTRS = ['user.overlay.opaque', 'trusted.overlay.opaque'];

function isOpaque(p: string): boolean {
  for (const name of OPAQUE_XATTRS) {
    try {
      const v = lgetxattr(p, name);
      if (v && v.toString() === 'y') return true;
    } catch {
      // trusted.* is unreadable without CAP_SYS_ADMIN; no xattr support: not opaque.
    }
  }
  return false;
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Writes the layer tar of `upper` to `dest`.
 * @throws SlipwayError `ERR_STORE` when a file of the upper directory cannot be read (rootless: a file the
 *   container made unreadable to its owner's subordinate ids).
 */
export async function diffUpperDir(upper: string, dest: string, opts: LayerDiffOptions = {}): Promise<LayerDiff> {
  const mapUid = opts.mapUid ?? ((n: number) => n);
  const mapGid = opts.mapGid ?? ((n: number) => n);
  const w = new LayerWriter(dest, opts.mtime);
  const add = (h: Headers, content?: Buffer): Promise<void> => w.add(h, content);
  const links = new Map<string, string>();
  const unreadable = (rel: string, e: unknown): SlipwayError => new SlipwayError('ERR_STORE', `cannot read ${rel} of the container's changes: ${(e as Error).message}`, {
    hint: 'a file the step made unreadable (mode 0000 or another user\'s 0600) cannot be committed rootless; chmod it in the same RUN', cause: e,
  });

  // The upper dir may belong to a container that is still running (commit): it can swap any entry for a symlink
  // at any time. Directories are held open (O_DIRECTORY|O_NOFOLLOW) and every child is reached through
  // `/proc/self/fd/<dir>/<name>` (the Node form of openat), files are opened O_NOFOLLOW|O_NONBLOCK and must still be
  // the regular file lstat saw: no symlink is ever followed, whoever planted it, and a FIFO swapped in cannot block.
  const walk = async (dirFd: FileHandle, rel: string): Promise<void> => {
    const dir = `/proc/self/fd/${dirFd.fd}`;
    let names: string[];
    try {
      names = (await readdir(dir)).sort(byBytes);
    } catch (e) {
      throw unreadable(rel || '/', e);
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = `${dir}/${name}`;
      let st: Stats;
      try {
        st = await lstat(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile (a running container)
        throw unreadable(r, e);
      }
      if (opts.exclude?.(r, st)) continue;
      const owner = { uid: mapUid(st.uid), gid: mapGid(st.gid), mode: st.mode & 0o7777 };
      if (st.isCharacterDevice() && st.rdev === 0) {
        await add({ name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0 });
      } else if (st.isDirectory()) {
        let child: FileHandle;
        try {
          child = await open(p, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
        } catch (e) {
          throw unreadable(r, e);
        }
        try {
          await add({ name: `${r}/`, type: 'directory', ...owner });
          if (isOpaque(p)) await add({ name: `${r}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0 });
          await walk(child, r);
        } finally {
          await child.close();
        }
      } else if (st.isSymbolicLink()) {
        await add({ name: r, type: 'symlink', linkname: await readlink(p), ...owner });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          await add({ name: r, type: 'link', linkname: first, ...owner });
          continue;
        }
        if (st.nlink > 1) links.set(key, r);
        // Streamed in chunks, never read whole: a step or a container can leave a file of many GiB (a sparse one
        // costs it nothing), which must not take this process's memory. Exactly the size lstat saw is written.
        let fh: FileHandle;
        try {
          fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        } catch (e) {
          throw unreadable(r, e);
        }
        try {
          const now = await fh.stat().catch((e: unknown) => { throw unreadable(r, e); });
          if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) throw unreadable(r, new Error('replaced while it was read'));
          await w.addFile({ name: r, type: 'file', ...owner }, st.size, chunksOf(fh, st.size, (e) => unreadable(r, e)));
        } finally {
          await fh.close();
        }
      } else if (st.isFIFO()) {
        await add({ name: r, type: 'fifo', ...owner });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
        const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
        await add({ name: r, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major, devminor: minor, ...owner });
      }
      // Sockets are not stored in layers.
    }
  };
  let root: FileHandle | undefined;
  try {
    root = await open(upper, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((e: unknown) => { throw unreadable('/', e); });
    await walk(root, '');
  } catch (e) {
    await w.abort(e);
    throw e;
  } finally {
    await root?.close();
  }
  return w.finish();
}

/** `size` bytes of `fh` from its start, in chunks of at most 1 MiB; fewer (the file shrank meanwhile) is an error. */
async function* chunksOf(fh: FileHandle, size: number, fail: (e: unknown) => Error): AsyncGenerator<Buffer> {
  const CHUNK = 1 << 20;
  for (let off = 0; off < size;) {
    const want = Math.min(CHUNK, size - off);
    let n: number;
    const buf = Buffer.allocUnsafe(want);
    try {
      ({ bytesRead: n } = await fh.read(buf, 0, want, off));
    } catch (e) {
      throw fail(e);
    }
    if (n === 0) throw fail(new Error('it shrank while it was read'));
    off += n;
    yield n === want ? buf : buf.subarray(0, n);
  }
}

/**
 * Writes a layer tar entry by entry (normalised timestamps, no user or group names), hashing as it goes.
 * The caller adds entries in a deterministic order.
 */
export class LayerWriter {
  readonly #pack = tarPack();
  readonly #hash = createHash('sha256');
  readonly #written: Promise<void>;
  readonly #mtime: Date;
  #size = 0;
  #entries = 0;

  constructor(dest: string, mtime: Date = new Date(0)) {
    this.#mtime = mtime;
    const hash = this.#hash;
    const count = (n: number): void => { this.#size += n; };
    this.#written = pipeline(this.#pack, async function* (src: AsyncIterable<unknown>) {
      for await (const chunk of src) {
        const b = chunk as Buffer;
        hash.update(b);
        count(b.length);
        yield b;
      }
    }, createWriteStream(dest, { mode: 0o600 }));
    // Failures surface from add()/finish(); keep this one from being unhandled meanwhile.
    this.#written.catch(() => {});
  }

  /** Adds one entry (`content` for regular files). */
  add(h: Headers, content?: Buffer): Promise<void> {
    this.#entries++;
    const size = h.type === 'file' || h.type === undefined ? { size: content?.length ?? 0 } : {};
    return tarEntry(this.#pack, { mtime: this.#mtime, uname: '', gname: '', ...h, ...size }, content ?? Buffer.alloc(0)).done;
  }

  /**
   * Adds a regular file of `size` bytes whose content arrives as `chunks` (never held whole); chunks that do not add
   * up to `size` fail the layer.
   */
  async addFile(h: Headers, size: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    this.#entries++;
    const { sink: entry, done } = tarEntry(this.#pack, { mtime: this.#mtime, uname: '', gname: '', ...h, type: 'file', size });
    try {
      for await (const c of chunks) {
        if (!entry.write(c)) await Promise.race([once(entry, 'drain'), done]);
      }
    } catch (e) {
      entry.destroy(e as Error);
      throw e;
    }
    entry.end(undefined);
    await done;
  }

  async abort(e: unknown): Promise<void> {
    this.#pack.destroy(e as Error);
    await this.#written.catch(() => {});
  }

  async finish(): Promise<LayerDiff> {
    this.#pack.finalize();
    await this.#written;
    return { diffId: `sha256:${this.#hash.digest('hex')}`, size: this.#size, entries: this.#entries };
  }
}

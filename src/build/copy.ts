/**
 * COPY/ADD planning: which files a COPY reads (from the build context after `.dockerignore`, or from another stage's
 * layers) and where each lands, with Docker's rules — a directory source copies its contents, several sources or a
 * wildcard need a directory destination, a file copied onto an existing directory goes inside it, `--chown` and
 * `--chmod` apply to what is copied. Sources outside the context (`../x`, a symlink that leads out) are refused.
 */
import { constants } from 'node:fs';
import { open, realpath, lstat, readdir, readFile, readlink, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { extract as tarExtract } from 'tar-stream';
import { entryData } from '../internal/tar-entry.js';
import path, { posix } from 'node:path';
import { SlipwayError } from '../errors.js';
import { decompress } from './decompress.js';
import { compilePattern, isIgnored, mayReinclude, parseDockerignore, type IgnorePattern } from './dockerignore.js';
import type { LayerView } from './layer-view.js';

/** One entry of the layer a COPY makes (path relative to the image root). */
export interface CopyItem {
  rel: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  content?: Buffer;
  /**
   * A regular file read from its tree (context or stage) when the layer is written, in chunks, never held whole (a
   * context file of many GiB must not take the build's memory); `digest` is its content's SHA-256 from the plan.
   */
  file?: SourceFile;
  linkname?: string;
  /** The entry's mtime in the layer (ADD <url>'s Last-Modified); else the layer's normalised epoch. */
  mtime?: Date;
}

/** A regular file of a source tree, read in chunks on demand. */
export interface SourceFile {
  size: number;
  /** SHA-256 of the content (hex), computed by the plan's streaming read. */
  digest: string;
  /** The content in chunks of at most 1 MiB; fails if the file is no longer exactly `size` bytes. */
  chunks(): AsyncIterable<Buffer>;
}

/** Where COPY reads from. */
export interface SourceTree {
  /** Resolves a source path given in the Dockerfile to a path in the tree (a final symlink followed). */
  resolveSource(src: string): Promise<string>;
  stat(rel: string): Promise<{ type: 'file' | 'directory' | 'symlink' | 'other'; mode: number } | undefined>;
  list(rel: string): Promise<string[]>;
  read(rel: string): Promise<Buffer>;
  /** A regular file's content as chunks (opened, with the tree's checks, each time it is iterated), and its size. */
  open(rel: string): Promise<{ size: number; chunks(): AsyncIterable<Buffer> }>;
  readlink(rel: string): Promise<string>;
  /** Every path of the tree (for wildcards), relative, in sorted order. */
  all(): Promise<string[]>;
  /** Whether a path is left out (the context's `.dockerignore`). */
  ignored(rel: string): boolean;
}

const GLOB = /[*?[]/;

/** Largest tar an ADD extracts after decompression (the archive is extracted in memory). */
export const MAX_ADD_ARCHIVE = 1 << 30;

function kind(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): 'file' | 'directory' | 'symlink' | 'other' {
  return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
}

function outside(src: string, why: string): SlipwayError {
  return new SlipwayError('ERR_BUILD_CONTEXT', `COPY source ${JSON.stringify(src)} ${why}`, {
    hint: 'only files inside the build context can be copied; move the file into the context directory',
  });
}

/** The build context directory as a source tree (`.dockerignore` applied). */
export async function contextTree(dir: string, ignore: readonly IgnorePattern[]): Promise<SourceTree> {
  const root = await realpath(dir);
  let cached: string[] | undefined;
  const inside = (p: string): boolean => p === root || p.startsWith(`${root}/`);
  const tree: SourceTree = {
    async resolveSource(src) {
      const clean = posix.normalize(`/${src}`).slice(1);
      if (posix.normalize(src).split('/')[0] === '..') throw outside(src, 'is outside the build context');
      const abs = path.join(root, clean);
      let real: string;
      try {
        real = await realpath(abs);
      } catch {
        // Absent: the caller reports it (a dangling symlink included, after this check on its parent).
        const parent = await realpath(path.dirname(abs)).catch(() => undefined);
        if (parent && !inside(parent)) throw outside(src, 'is reached through a symbolic link that leads outside the build context');
        return clean;
      }
      if (!inside(real)) throw outside(src, 'is a symbolic link (or below one) that leads outside the build context');
      return path.relative(root, real);
    },
    async stat(rel) {
      const st = await lstat(path.join(root, rel)).catch(() => undefined);
      return st && { type: kind(st), mode: st.mode & 0o7777 };
    },
    async list(rel) {
      return (await readdir(path.join(root, rel))).sort();
    },
    read: (rel) => readInside(root, rel),
    async open(rel) {
      const fh = await openInside(root, rel);
      const { size } = await fh.stat().finally(() => fh.close());
      return { size, chunks: () => chunksInside(root, rel, size) };
    },
    readlink: (rel) => readlink(path.join(root, rel)),
    async all() {
      if (cached) return cached;
      const out: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        for (const n of (await readdir(path.join(root, rel))).sort()) {
          const r = rel ? `${rel}/${n}` : n;
          const st = await lstat(path.join(root, r));
          const ign = isIgnored(ignore, r);
          if (!ign) out.push(r);
          if (st.isDirectory() && (!ign || mayReinclude(ignore, r))) await walk(r);
        }
      };
      await walk('');
      cached = out;
      return out;
    },
    ignored: (rel) => rel !== '' && isIgnored(ignore, rel),
  };
  return tree;
}

/**
 * A context file's content, read only if it is still a regular file inside the context when opened: the context may
 * change during the build (another process, a shared directory), and a file swapped for a symlink (or a directory on
 * its path swapped for one) must not make the build read `~/.ssh/id_rsa` into an image, nor a FIFO swapped in hang it.
 */
async function readInside(root: string, rel: string): Promise<Buffer> {
  const fh = await openInside(root, rel);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** A context file opened for reading, checked as {@link readInside} says; the caller closes it. */
async function openInside(root: string, rel: string): Promise<FileHandle> {
  const fh = await open(path.join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ELOOP') throw outside(rel, 'was replaced by a symbolic link during the build');
    throw e;
  });
  try {
    const real = await readlink(`/proc/self/fd/${fh.fd}`);
    if (real !== root && !real.startsWith(`${root}/`)) throw outside(rel, 'was moved outside the build context during the build (a directory on its path became a symbolic link)');
    if (!(await fh.stat()).isFile()) throw outside(rel, 'is no longer a regular file');
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** A context file's content in chunks, opened with {@link openInside}'s checks; it must still be `size` bytes. */
async function* chunksInside(root: string, rel: string, size: number): AsyncGenerator<Buffer> {
  const fh = await openInside(root, rel);
  try {
    yield* chunksOfHandle(fh, size, rel);
  } finally {
    await fh.close();
  }
}

const CHUNK = 1 << 20;

/** Exactly `size` bytes of `fh` in chunks of at most 1 MiB; a file that shrank or grew meanwhile fails the copy. */
async function* chunksOfHandle(fh: FileHandle, size: number, rel: string): AsyncGenerator<Buffer> {
  let off = 0;
  while (off < size) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - off));
    const { bytesRead } = await fh.read(buf, 0, buf.length, off);
    if (bytesRead === 0) break;
    off += bytesRead;
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
  const extra = await fh.read(Buffer.alloc(1), 0, 1, off);
  if (off !== size || extra.bytesRead !== 0) {
    throw new SlipwayError('ERR_BUILD_CONTEXT', `COPY source ${JSON.stringify(rel)} changed size during the build (${size} bytes when planned)`, {
      hint: 'keep the build context unchanged while a build runs',
    });
  }
}

/** Another stage's (or image's) layers as a source tree. */
export function layerTree(view: LayerView, name: string): SourceTree {
  const need = async (rel: string) => {
    const e = await view.lookup(rel);
    if (!e) throw new SlipwayError('ERR_BUILD_CONTEXT', `${rel} is not in ${name}`, { hint: 'check the path in COPY --from' });
    return e;
  };
  return {
    resolveSource: (src) => view.resolve(posix.normalize(`/${src}`), true),
    async stat(rel) {
      const e = await view.lookup(rel);
      return e && { type: kind(e.st), mode: e.st.mode & 0o7777 };
    },
    list: (rel) => view.list(rel),
    read: async (rel) => readFile((await need(rel)).path),
    async open(rel) {
      const p = (await need(rel)).path;
      const { size } = await lstat(p);
      return {
        size,
        async *chunks() {
          const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
          try {
            yield* chunksOfHandle(fh, size, rel);
          } finally {
            await fh.close();
          }
        },
      };
    },
    readlink: async (rel) => readlink((await need(rel)).path),
    async all() {
      const out: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        for (const n of await view.list(rel)) {
          const r = rel ? `${rel}/${n}` : n;
          out.push(r);
          if ((await view.lookup(r))?.st.isDirectory()) await walk(r);
        }
      };
      await walk('');
      return out;
    },
    ignored: () => false,
  };
}

/** What a COPY instruction asks for, after substitution. */
export interface CopyRequest {
  sources: string[];
  /** Absolute destination in the image (WORKDIR applied); a trailing `/` kept. */
  dest: string;
  owner?: { uid: number; gid: number };
  chmod?: number;
  /** ADD: a local tar archive (plain or gzip) is extracted into the destination instead of copied. */
  extractArchives?: boolean;
  /** Inline files (heredocs, and ADD's downloads: mode 0600 and the server's mtime). */
  inline?: { name: string; content: Buffer; mode?: number; mtime?: Date }[];
  /** `--exclude` patterns (.dockerignore syntax), relative to each source. */
  exclude?: string[];
  /** Largest tar ADD extracts after decompression. @defaultValue {@link MAX_ADD_ARCHIVE} */
  maxArchiveBytes?: number;
}

/** Plans the files of a COPY: the entries of its layer below `dest` (parents excluded), sorted, and the inputs' hash. */
export async function planCopy(tree: SourceTree, req: CopyRequest, destIsExistingDir: (abs: string) => Promise<boolean>): Promise<{ items: CopyItem[]; hash: string }> {
  const owner = req.owner ?? { uid: 0, gid: 0 };
  const items = new Map<string, CopyItem>();
  const wildcard = req.sources.some((s) => GLOB.test(s));
  const count = req.sources.length + (req.inline?.length ?? 0);
  const destDirForced = req.dest.endsWith('/') || count > 1 || wildcard;
  const dest = posix.normalize(req.dest);
  const put = (rel: string, it: Omit<CopyItem, 'rel' | 'uid' | 'gid' | 'mode'> & { mode: number }, ids: { uid: number; gid: number } = owner): void => {
    const mode = req.chmod !== undefined && it.type !== 'symlink' ? req.chmod : it.mode;
    items.set(rel, { rel, ...it, mode, ...ids });
  };
  const join = (a: string, b: string): string => (a ? `${a}/${b}` : b);
  /** ADD's extraction: the archive's entries below `to` with their modes and (without --chown) owners. */
  const extract = async (tar: Buffer, to: string, src: string): Promise<void> => {
    const ex = tarExtract();
    const seen = new Map<string, CopyItem>();
    const done = (async () => {
      for await (const e of ex) {
        const h = e.header;
        const chunks: Buffer[] = [];
        for await (const c of entryData(e)) chunks.push(c);
        const parts = h.name.split('/').filter((x) => x && x !== '.');
        if (parts.includes('..')) throw new SlipwayError('ERR_BUILD_CONTEXT', `ADD ${src}: archive entry ${JSON.stringify(h.name)} leads outside the destination`, { hint: 'fix the archive' });
        if (!parts.length) continue;
        const rel = join(to, parts.join('/'));
        const ids = req.owner ?? { uid: h.uid ?? 0, gid: h.gid ?? 0 };
        const mode = (h.mode ?? 0o644) & 0o7777;
        if (h.type === 'directory') put(rel, { type: 'directory', mode }, ids);
        else if (h.type === 'symlink') put(rel, { type: 'symlink', mode: 0o777, linkname: h.linkname ?? '' }, ids);
        else if (h.type === 'link') {
          const target = seen.get(join(to, (h.linkname ?? '').split('/').filter((x) => x && x !== '.').join('/')));
          if (target?.content) put(rel, { type: 'file', mode, content: target.content }, ids);
        } else if (h.type === 'file' || h.type === 'contiguous-file') {
          put(rel, { type: 'file', mode, content: Buffer.concat(chunks) }, ids);
          seen.set(rel, items.get(rel)!);
        }
        // Devices and fifos in an ADDed archive are skipped.
      }
    })();
    ex.end(tar);
    await done;
  };
  const maxArchive = req.maxArchiveBytes ?? MAX_ADD_ARCHIVE;
  const archive = async (b: Buffer, src: string): Promise<Buffer | undefined> => {
    const t = await decompress(b, src, maxArchive);
    return t && t.length >= 512 && t.subarray(257, 262).toString('latin1') === 'ustar' ? t : undefined;
  };
  // `--exclude` patterns (.dockerignore syntax, `!` included), matched against paths relative to the source copied.
  const exclude = req.exclude?.length ? parseDockerignore(req.exclude.join('\n')) : [];
  const copyEntry = async (src: string, to: string, root: string): Promise<void> => {
    const st = await tree.stat(src);
    if (!st) return;
    if (st.type === 'file') put(to, { type: 'file', mode: st.mode, file: await sourceFile(tree, src) });
    else if (st.type === 'symlink') put(to, { type: 'symlink', mode: 0o777, linkname: await tree.readlink(src) });
    else if (st.type === 'directory') {
      put(to, { type: 'directory', mode: st.mode });
      await copyContents(src, to, root);
    }
  };
  const copyContents = async (src: string, to: string, root: string): Promise<void> => {
    for (const n of await tree.list(src)) {
      const s = src ? `${src}/${n}` : n;
      const fromRoot = root ? s.slice(root.length + 1) : s;
      const excluded = exclude.length > 0 && isIgnored(exclude, fromRoot);
      if (tree.ignored(s) || excluded) {
        const st = await tree.stat(s);
        if (st?.type !== 'directory' || (excluded && !mayReinclude(exclude, fromRoot))) continue;
        // An excluded directory may still hold re-included files: walk it, emit only what survives.
        const before = items.size;
        await copyContents(s, `${to}/${n}`, root);
        if (items.size > before) put(`${to}/${n}`, { type: 'directory', mode: st.mode });
        continue;
      }
      await copyEntry(s, `${to}/${n}`, root);
    }
  };
  const destRel = dest.replace(/^\/+/, '');
  for (const raw of req.sources) {
    let matches: string[];
    if (GLOB.test(raw)) {
      const re = compilePattern(posix.normalize(raw).replace(/^\/+/, '').replace(/^\.\//, ''));
      matches = (await tree.all()).filter((p) => re.test(p));
      if (!matches.length) throw new SlipwayError('ERR_BUILD_CONTEXT', `COPY ${raw}: no source files were specified (nothing matches)`, { hint: 'check the pattern and .dockerignore' });
    } else {
      matches = [await tree.resolveSource(raw)];
    }
    for (const m of matches) {
      const st = await tree.stat(m);
      if (!st || (tree.ignored(m) && !GLOB.test(raw))) {
        throw new SlipwayError('ERR_BUILD_CONTEXT', `COPY ${raw}: ${JSON.stringify(raw)} not found${st ? ' (excluded by .dockerignore)' : ''}`, {
          hint: 'check the path (relative to the build context) and .dockerignore',
        });
      }
      if (st.type === 'directory') {
        await copyContents(m, destRel, m);
        continue;
      }
      if (exclude.length && isIgnored(exclude, posix.basename(m))) continue;
      if (req.extractArchives && st.type === 'file') {
        const tar = await archive(await tree.read(m), raw);
        if (tar) {
          await extract(tar, destRel, raw);
          continue;
        }
      }
      const base = posix.basename(m);
      const intoDir = destDirForced || (await destIsExistingDir(dest));
      await copyEntry(m, intoDir ? join(destRel, base) : destRel, m);
    }
  }
  for (const f of req.inline ?? []) {
    const intoDir = destDirForced || (await destIsExistingDir(dest));
    put(intoDir ? join(destRel, f.name) : destRel, { type: 'file', mode: f.mode ?? 0o644, content: f.content, ...(f.mtime ? { mtime: f.mtime } : {}) });
  }
  const sorted = [...items.values()].filter((i) => i.rel !== '').sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
  const h = createHash('sha256');
  for (const i of sorted) {
    h.update(`${i.rel}\0${i.type}\0${i.mode}\0${i.uid}\0${i.gid}\0${i.linkname ?? ''}\0${i.mtime ? i.mtime.getTime() : ''}\0`);
    if (i.content) h.update(createHash('sha256').update(i.content).digest());
    else if (i.file) h.update(Buffer.from(i.file.digest, 'hex'));
  }
  return { items: sorted, hash: h.digest('hex') };
}

/** A file of `tree` for a COPY item: its size and content digest now (one streaming pass), its content when written. */
async function sourceFile(tree: SourceTree, rel: string): Promise<SourceFile> {
  const f = await tree.open(rel);
  const h = createHash('sha256');
  for await (const c of f.chunks()) h.update(c);
  return { size: f.size, digest: h.digest('hex'), chunks: f.chunks };
}

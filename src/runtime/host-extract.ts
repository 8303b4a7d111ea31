import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { lstat, lutimes, mkdir, open, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { SlipwayError, invalidArgument } from '../errors.js';
import { freeSpaceOf, isZeros } from '../internal/disk-space.js';

/** One entry copied out of a container, as {@link extractToHost} needs it. */
export interface ExtractEntry {
  /**
   * Path relative to the copied path's parent, as the container's bytes; the first component is
   * the copied name (it becomes the host path's own name).
   */
  relPath: Buffer;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  mtime?: Date;
  content?: Buffer;
  /** A large file's content in chunks (instead of `content`), written as it comes. */
  contentStream?: AsyncIterable<Buffer>;
  /** A symlink's target as bytes (written as is, never followed). */
  linkBytes?: Buffer;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;
const SLASH = 0x2f;
/** Group/other write and setuid/setgid/sticky never reach the host. */
const HOST_MODE_MASK = 0o755;

interface OpenDir {
  /** relPath of the directory entry (undefined for the anchor, the host path's parent). */
  rel: Buffer | undefined;
  handle: FileHandle;
  /** Made by this extraction: its mode and mtime are applied once its entries are written. */
  made: { mode: number; mtime: Date | undefined } | undefined;
}

/**
 * Writes entries copied out of a (possibly hostile) container to `hostPath`: the first entry
 * becomes `hostPath`, the rest go below it. Entries must come in pre-order (a directory before its
 * entries), as `getFiles` yields them.
 *
 * Everything below `hostPath`'s parent is created relative to an open directory
 * (`/proc/self/fd/<dirfd>/<name>`, the Node form of `openat`), with names kept as bytes, so:
 * - no symlink is ever followed, whoever made it: files are created `O_CREAT|O_EXCL|O_NOFOLLOW`,
 *   directories are entered with `O_DIRECTORY|O_NOFOLLOW`;
 * - an entry that meets something this extraction already made (two names the host file system
 *   treats as one, or a repeated name) is refused with `ERR_COPY_UNSAFE_PATH`;
 * - something that was there before is merged into when both are directories, replaced when it
 *   is not a directory (unlinking a symlink never touches its target), and refused with
 *   `ERR_COPY_HOST` when a directory would have to be replaced by a file.
 * `hostPath`'s parent is the caller's and is created (and followed) as given. Modes keep the owner's
 * bits and lose group/other write and setuid/setgid/sticky; ownership is the caller's.
 *
 * @param source - The container path, for error messages.
 * @throws SlipwayError `ERR_COPY_UNSAFE_PATH` (a name that is empty, `.`, `..`, contains NUL, or
 *   arrives outside its directory; a collision); `ERR_COPY_HOST` for a directory in the way or a host
 *   file system error (the `cause` keeps its code: `EACCES`, `ENOSPC`…); `ERR_INVALID_ARGUMENT` for `/`.
 * @example await extractToHost(container.copyOut('/srv/data'), '/tmp/out/data', { source: '/srv/data' });
 */
export async function extractToHost(entries: AsyncIterable<ExtractEntry> | Iterable<ExtractEntry>, hostPath: string, opts: { source: string }): Promise<void> {
  const dest = resolve(hostPath);
  if (dest === '/') throw invalidArgument('hostPath', hostPath, 'a path below / to create or merge into');
  const rootName = Buffer.from(basename(dest));
  const anchor = await mkdir(dirname(dest), { recursive: true })
    .then(() => open(dirname(dest), O_RDONLY | O_DIRECTORY))
    .catch((cause: NodeJS.ErrnoException) => { throw hostError(`open ${dirname(dest)}`, cause); });
  const stack: OpenDir[] = [{ rel: undefined, handle: anchor, made: undefined }];
  const made = new Set<string>();
  const ctx: Ctx = { made, source: opts.source };
  try {
    for await (const e of entries) {
      const parts = components(e.relPath, ctx);
      const depth = parts.length - 1;
      while (stack.length > depth + 1) await finish(stack.pop()!);
      const parent = stack[depth];
      if (stack.length < depth + 1 || !parent || (depth > 0 && !parent.rel!.equals(e.relPath.subarray(0, e.relPath.lastIndexOf(SLASH))))) {
        throw unsafe(ctx, e.relPath, 'arrived outside its directory');
      }
      const name = depth === 0 ? rootName : parts[depth]!;
      if (e.type === 'directory') stack.push(await makeDir(parent.handle, name, e, ctx));
      else if (e.type === 'symlink') await makeSymlink(parent.handle, name, e, ctx);
      else await makeFile(parent.handle, name, e, ctx);
    }
    while (stack.length > 1) await finish(stack.pop()!);
  } finally {
    for (const d of stack) await d.handle.close().catch(() => {});
  }
}

interface Ctx {
  made: Set<string>;
  source: string;
}

/** Splits relPath into components and refuses any the host cannot take as one name. */
function components(rel: Buffer, ctx: Ctx): Buffer[] {
  const parts: Buffer[] = [];
  for (let start = 0; start <= rel.length;) {
    let end = rel.indexOf(SLASH, start);
    if (end < 0) end = rel.length;
    parts.push(rel.subarray(start, end));
    start = end + 1;
  }
  parts.forEach((p, i) => {
    // The first component is the copied name (`.` when copying `/`); it is replaced by hostPath's own.
    if (p.length === 0 || p.includes(0) || (i > 0 && (p.equals(DOT) || p.equals(DOTDOT)))) throw unsafe(ctx, rel, 'has an empty, `.`, `..` or NUL component');
  });
  return parts;
}
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

/** `name` inside the open directory `dir`, resolved by the kernel like `openat(dir, name)`. */
function at(dir: FileHandle, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dir.fd}/`), name]);
}

async function identity(h: FileHandle): Promise<string> {
  const st = await h.stat({ bigint: true });
  return `${st.dev}:${st.ino}`;
}

async function makeDir(parent: FileHandle, name: Buffer, e: ExtractEntry, ctx: Ctx): Promise<OpenDir> {
  const p = at(parent, name);
  let fresh = await mkdir(p, 0o700).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') return false;
    throw fsError(ctx, e.relPath, 'create directory', err);
  });
  const handle = await openDir(p).catch(async (err: NodeJS.ErrnoException) => {
    // Not a directory (a symlink, a file): replace it unless this extraction made it.
    if (fresh || (err.code !== 'ELOOP' && err.code !== 'ENOTDIR')) throw fsError(ctx, e.relPath, 'open directory', err);
    await clearNonDirectory(p, e, ctx);
    await mkdir(p, 0o700).catch((err2: NodeJS.ErrnoException) => { throw fsError(ctx, e.relPath, 'create directory', err2); });
    fresh = true;
    return openDir(p);
  });
  const id = await identity(handle);
  if (!fresh && ctx.made.has(id)) {
    await handle.close();
    throw collision(ctx, e.relPath);
  }
  ctx.made.add(id);
  return { rel: e.relPath, handle, made: fresh ? { mode: e.mode, mtime: e.mtime } : undefined };
}

function openDir(p: Buffer): Promise<FileHandle> {
  return open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

async function makeFile(parent: FileHandle, name: Buffer, e: ExtractEntry, ctx: Ctx): Promise<void> {
  const p = at(parent, name);
  const create = () => open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  const h = await create().catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw fsError(ctx, e.relPath, 'create file', err);
    await clearNonDirectory(p, e, ctx);
    return create().catch((err2: NodeJS.ErrnoException) => { throw err2.code === 'EEXIST' ? collision(ctx, e.relPath) : fsError(ctx, e.relPath, 'create file', err2); });
  });
  let written = false;
  try {
    ctx.made.add(await identity(h));
    await writeContent(h, e).catch((err: NodeJS.ErrnoException) => { throw writeError(ctx, e.relPath, p, err); });
    await h.chmod(e.mode & HOST_MODE_MASK);
    if (e.mtime) await h.utimes(e.mtime, e.mtime);
    written = true;
  } finally {
    await h.close();
    // A file cut short (the disk filled, the container went away) is not left behind as if it were the copy.
    if (!written) await unlink(p).catch(() => undefined);
  }
}

/**
 * A file's content; chunks of zeros are skipped, not written, so a sparse file (a container's `truncate -s 1T`) stays
 * sparse on the host instead of filling its disk (Docker's `docker cp` writes every zero).
 */
async function writeContent(h: FileHandle, e: ExtractEntry): Promise<void> {
  if (e.content?.length) await h.writeFile(e.content);
  if (!e.contentStream) return;
  let at = 0;
  for await (const chunk of e.contentStream) {
    if (!isZeros(chunk)) await h.write(chunk, 0, chunk.length, at);
    at += chunk.length;
  }
  await h.truncate(at);
}

async function makeSymlink(parent: FileHandle, name: Buffer, e: ExtractEntry, ctx: Ctx): Promise<void> {
  const p = at(parent, name);
  const target = e.linkBytes ?? Buffer.alloc(0);
  if (target.length === 0 || target.includes(0)) throw unsafe(ctx, e.relPath, 'is a symlink with an empty target or a NUL byte');
  await symlink(target, p).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw fsError(ctx, e.relPath, 'create symlink', err);
    await clearNonDirectory(p, e, ctx);
    await symlink(target, p).catch((err2: NodeJS.ErrnoException) => { throw err2.code === 'EEXIST' ? collision(ctx, e.relPath) : fsError(ctx, e.relPath, 'create symlink', err2); });
  });
  const st = await lstat(p, { bigint: true });
  ctx.made.add(`${st.dev}:${st.ino}`);
  if (e.mtime) await lutimes(p, e.mtime, e.mtime).catch(() => {});
}

/** Removes what was at `p` before this extraction, if it is not a directory; never follows it. */
async function clearNonDirectory(p: Buffer, e: ExtractEntry, ctx: Ctx): Promise<void> {
  const st = await lstat(p, { bigint: true });
  if (ctx.made.has(`${st.dev}:${st.ino}`)) throw collision(ctx, e.relPath);
  if (st.isDirectory()) {
    throw new SlipwayError('ERR_COPY_HOST', `cannot copy ${show(ctx, e.relPath)}: the host already has a directory where the container has a ${e.type}`, {
      hint: 'copy into an empty or new host directory, or remove the existing one first',
    });
  }
  await unlink(p);
}

async function finish(d: OpenDir): Promise<void> {
  try {
    if (d.made) {
      await d.handle.chmod(d.made.mode & HOST_MODE_MASK);
      if (d.made.mtime) await d.handle.utimes(d.made.mtime, d.made.mtime);
    }
  } finally {
    await d.handle.close();
  }
}

/** The entry as a container path, with bytes that are not UTF-8 shown as `\xNN`. */
function show(ctx: Ctx, rel: Buffer): string {
  const slash = rel.indexOf(SLASH);
  const below = slash < 0 ? Buffer.alloc(0) : rel.subarray(slash);
  const text = isUtf8(below) ? below.toString('utf8') : [...below].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
  return JSON.stringify(ctx.source.replace(/\/+$/, '') + text);
}

function unsafe(ctx: Ctx, rel: Buffer, reason: string): SlipwayError {
  return new SlipwayError('ERR_COPY_UNSAFE_PATH', `refusing to copy ${show(ctx, rel)} out of the container: it ${reason}`, {
    hint: 'the container produced a name the host cannot take safely; copy a path without it, or read it with exec()',
  });
}

function collision(ctx: Ctx, rel: Buffer): SlipwayError {
  return new SlipwayError('ERR_COPY_UNSAFE_PATH', `refusing to copy ${show(ctx, rel)} out of the container: its host name collides with an entry this copy already wrote`, {
    hint: 'two container names map to one host name (e.g. a case-insensitive host file system, or a name changed during the copy); copy them separately or rename them in the container',
  });
}

function fsError(ctx: Ctx, rel: Buffer, op: string, cause: NodeJS.ErrnoException): SlipwayError {
  if (cause.code === 'ELOOP' || cause.code === 'ENOTDIR') return unsafe(ctx, rel, `would pass through a symlink or non-directory (${cause.code})`);
  return hostError(`${op} ${show(ctx, rel)}`, cause);
}

/** A write that failed: out of space names the host directory and what is free there. */
function writeError(ctx: Ctx, rel: Buffer, p: Buffer, cause: NodeJS.ErrnoException): unknown {
  if (SlipwayError.is(cause)) return cause;
  if (cause.code !== 'ENOSPC' && cause.code !== 'EDQUOT') return fsError(ctx, rel, 'write', cause);
  let free = '';
  try {
    free = ` (${freeSpaceOf(dirname(p.toString('latin1')))})`;
  } catch {
    /* the message still names the file */
  }
  return new SlipwayError('ERR_COPY_HOST', `copy out of the container: write ${show(ctx, rel)} on the host: no space left on its file system${free}; the partly written file was removed`, {
    cause, hint: 'free space on the host file system, or copy into a directory on one with room',
  });
}

function hostError(what: string, cause: NodeJS.ErrnoException): SlipwayError {
  return new SlipwayError('ERR_COPY_HOST', `copy out of the container: ${what} on the host: ${cause.code ?? cause.message}`, {
    cause, hint: 'check that the host path is writable by this user and its file system has space',
  });
}

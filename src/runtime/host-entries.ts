import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SlipwayError, invalidArgument } from '../errors.js';
import type { CopyEntry } from './runtime-container.js';

/**
 * Walks a host file or directory as copy entries rooted at container path `target`. The source path
 * itself is followed when it is a symlink (as `docker cp` and testcontainers do: the file or tree it
 * points to is copied); symlinks inside a tree are never followed and arrive as symlinks. `mode`
 * applies to every regular file copied (a single file, or each file of a tree, as testcontainers'
 * `withCopyDirectoriesToContainer` does); directories keep their own mode, so a file mode such as
 * 0o644 never makes a directory untraversable.
 */
export async function* hostEntries(source: string, target: string, owner: { uid: number; gid: number }, mode?: number): AsyncGenerator<CopyEntry> {
  const st = await stat(source).catch((cause) => {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `cannot read copy source ${source}: ${(cause as Error).message}`, {
      cause, hint: 'pass an existing host file or directory (a symlink as the source must point to one)',
    });
  });
  if (!st.isFile() && !st.isDirectory()) throw invalidArgument('copy source', source, 'a regular file or directory (or a symlink to one)');
  yield* walk(source, target, owner, mode, st, true);
}

async function* walk(source: string, target: string, owner: { uid: number; gid: number }, mode: number | undefined, st: Awaited<ReturnType<typeof lstat>>, top = false): AsyncGenerator<CopyEntry> {
  const base = { ...owner, mtime: st.mtime };
  if (st.isSymbolicLink()) { yield { ...base, path: target, type: 'symlink', mode: 0o777, linkTarget: await readlink(source) }; return; }
  if (st.isFile()) { yield { ...base, path: target, type: 'file', mode: mode ?? Number(st.mode) & 0o7777, ...await fileContent(source, st, top) }; return; }
  if (!st.isDirectory()) throw invalidArgument('copy source', source, 'regular files, directories and symlinks only');
  yield { ...base, path: target, type: 'directory', mode: Number(st.mode) & 0o7777 };
  for (const name of (await readdir(source)).sort()) {
    const child = join(source, name);
    yield* walk(child, posix.join(target, name), owner, mode, await lstat(child));
  }
}

/** Above this a file is streamed in chunks as it is read, never held whole (and can be larger than a Buffer). */
const STREAM_ABOVE = 1 << 20;

/**
 * A host file's content: read whole when small, else announced by size and streamed in 1 MiB chunks (the keeper
 * leaves zero blocks as holes), the file opened only when the stream is read. Opened without waiting and (inside a
 * tree) without following a link, and it must still be the file walked (a FIFO or device swapped in meanwhile is refused, never
 * read); a file that shrinks while it is read fails the copy.
 */
async function fileContent(source: string, st: Awaited<ReturnType<typeof lstat>>, follow: boolean): Promise<{ content: Buffer } | { size: number; contentStream: AsyncIterable<Buffer> }> {
  const opened = async () => {
    const fh = await open(source, constants.O_RDONLY | (follow ? 0 : constants.O_NOFOLLOW) | constants.O_NONBLOCK).catch((cause) => {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `cannot read copy source ${source}: ${(cause as Error).message}`, { cause, hint: 'copy regular files the test process can read' });
    });
    const now = await fh.stat();
    if (!now.isFile() || now.ino !== Number(st.ino) || now.dev !== Number(st.dev)) {
      await fh.close();
      throw invalidArgument('copy source', source, 'a regular file that stays in place while it is copied');
    }
    return fh;
  };
  const size = Number(st.size);
  if (size <= STREAM_ABOVE) {
    const fh = await opened();
    try {
      return { content: await fh.readFile() };
    } finally {
      await fh.close();
    }
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    const fh = await opened();
    try {
      for (let off = 0; off < size;) {
        const buf = Buffer.allocUnsafe(Math.min(STREAM_ABOVE, size - off));
        const { bytesRead } = await fh.read(buf, 0, buf.length, off);
        if (bytesRead === 0) {
          throw new SlipwayError('ERR_INVALID_ARGUMENT', `copy source ${source} shrank while it was copied (${off} of ${size} bytes read)`, {
            hint: 'copy a file nothing writes meanwhile',
          });
        }
        off += bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
  return { size, contentStream: chunks() };
}

import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
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
  yield* walk(source, target, owner, mode, st);
}

async function* walk(source: string, target: string, owner: { uid: number; gid: number }, mode: number | undefined, st: Awaited<ReturnType<typeof lstat>>): AsyncGenerator<CopyEntry> {
  const base = { ...owner, mtime: st.mtime };
  if (st.isSymbolicLink()) { yield { ...base, path: target, type: 'symlink', mode: 0o777, linkTarget: await readlink(source) }; return; }
  if (st.isFile()) { yield { ...base, path: target, type: 'file', mode: mode ?? Number(st.mode) & 0o7777, content: await readFile(source) }; return; }
  if (!st.isDirectory()) throw invalidArgument('copy source', source, 'regular files, directories and symlinks only');
  yield { ...base, path: target, type: 'directory', mode: Number(st.mode) & 0o7777 };
  for (const name of (await readdir(source)).sort()) {
    const child = join(source, name);
    yield* walk(child, posix.join(target, name), owner, mode, await lstat(child));
  }
}

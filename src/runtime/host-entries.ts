import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SlipwayError, invalidArgument } from '../errors.js';
import type { CopyEntry } from './runtime-container.js';

/** Walks a host file, symlink or directory as copy entries rooted at container path `target`. */
export async function* hostEntries(source: string, target: string, owner: { uid: number; gid: number }, mode?: number): AsyncGenerator<CopyEntry> {
  const st = await lstat(source).catch((cause) => {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `cannot read copy source ${source}: ${(cause as Error).message}`, { cause, hint: 'pass an existing host file or directory' });
  });
  const base = { ...owner, mtime: st.mtime };
  if (st.isSymbolicLink()) { yield { ...base, path: target, type: 'symlink', mode: 0o777, linkTarget: await readlink(source) }; return; }
  if (st.isFile()) { yield { ...base, path: target, type: 'file', mode: mode ?? st.mode & 0o7777, content: await readFile(source) }; return; }
  if (!st.isDirectory()) throw invalidArgument('copy source', source, 'a regular file, directory or symlink');
  yield { ...base, path: target, type: 'directory', mode: mode ?? st.mode & 0o7777 };
  for (const name of (await readdir(source)).sort()) yield* hostEntries(join(source, name), posix.join(target, name), owner);
}


import { type Stats, closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SlipwayError, type SlipwayErrorCode } from '../errors.js';

/**
 * Makes sure `dir` is a directory that only we can reach: creates it 0700 without following links,
 * then checks what is there through an fd opened with O_NOFOLLOW (a symlink, another owner, or a
 * parent that others may rename entries in is refused), and tightens a mode we own that lets others in.
 * Used for every directory slipway keeps in a shared place (`/tmp/slipway-<uid>`, the store).
 * @throws SlipwayError with `code` naming the path and what to do, when the directory cannot be trusted.
 */
export function ensurePrivateDir(dir: string, code: SlipwayErrorCode, fixHint: string): void {
  const uid = process.getuid!();
  const fail = (why: string, cause?: unknown): never => {
    throw new SlipwayError(code, `cannot use ${dir}: ${why}`, { hint: fixHint, cause });
  };
  // A parent where others may rename or delete entries (world-writable without the sticky bit) lets
  // them swap the directory after every check below.
  const parent = dirname(dir);
  const pst = statOrUndefined(parent);
  if (pst && (pst.mode & 0o002) && !(pst.mode & 0o1000)) fail(`its parent ${parent} is writable by every user and not sticky`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') mkdirSync(dir, { recursive: true, mode: 0o700 });
    else if (code !== 'EEXIST') fail((e as Error).message, e);
  }
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    const link = c === 'ELOOP' || (c === 'ENOTDIR' && lstatOrUndefined(dir)?.isSymbolicLink());
    fail(link ? 'it is a symbolic link (possibly planted by another user)' : c === 'ENOTDIR' ? 'it is not a directory' : (e as Error).message, e);
  }
  try {
    const st = fstatSync(fd!);
    if (st.uid !== uid) fail(`it is owned by uid ${st.uid}, not by us (uid ${uid})`);
    if ((st.mode & 0o077) !== 0) fchmodSync(fd!, 0o700);
  } finally {
    closeSync(fd!);
  }
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Larger than any compose or env file a person writes; a hostile one cannot make us hold more. */
export const INPUT_FILE_LIMIT = 16 << 20;

/**
 * Reads a small input file a project names (a compose file, an `extends.file`, an env file) as text, synchronously.
 * Only a regular file of at most `limit` bytes: a FIFO named there would block `open()` (and so the whole process,
 * timers included) until a writer came, and `/dev/zero` or `/dev/stdin` would be read forever. Opened without
 * waiting; a regular file is checked through the opened descriptor.
 * @throws Error with `code` `EISDIR` (a directory), `EINVAL` (another kind of non-regular file) or `EFBIG` (too large), or the file system's error.
 */
export function readInputFileSync(path: string, limit = INPUT_FILE_LIMIT): string {
  return readInputBytesSync(path, limit).toString('utf8');
}

/** {@link readInputFileSync} as bytes (a certificate, a secret). */
export function readInputBytesSync(path: string, limit = INPUT_FILE_LIMIT): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(st);
    if (st.size > limit) throw Object.assign(new Error(`${st.size} bytes, above the limit of ${limit}`), { code: 'EFBIG' });
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `EISDIR` for a directory (as a plain read would say), `EINVAL` for anything else that is not a regular file. */
function notRegular(st: Parameters<typeof kindOf>[0]): Error {
  return Object.assign(new Error(`not a regular file (${kindOf(st)})`), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' });
}

function kindOf(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isDirectory(): boolean }): string {
  return st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : st.isDirectory() ? 'a directory' : 'not a file';
}

/** {@link readInputFileSync} without blocking the event loop (the checks are the same). */
export async function readInputFile(path: string, limit = INPUT_FILE_LIMIT): Promise<string> {
  return (await readInputBytes(path, limit)).toString('utf8');
}

/** {@link readInputFile} as bytes (a secret, a script). */
export async function readInputBytes(path: string, limit = INPUT_FILE_LIMIT): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(st);
    if (st.size > limit) throw Object.assign(new Error(`${st.size} bytes, above the limit of ${limit}`), { code: 'EFBIG' });
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_BYTES = 4 * 1024 * 1024;

/**
 * Reads a small file from an overlay stack before it is mounted: the first layer (top first) that has
 * the path wins; an overlay whiteout (a 0:0 character device) hides it, and so does anything but a
 * directory on the way (a symlink `etc -> /etc` in a layer would otherwise lead to the host's file).
 * Nothing is followed: a symlink, FIFO or device at the path reads as `undefined`, without blocking.
 * Only for layers the container cannot change yet (before START); a running container's files are
 * read inside it (container-files.ts).
 */
export async function readFromLayers(dirsTopFirst: readonly string[], relPath: string): Promise<string | undefined> {
  const parts = relPath.split('/').filter((c) => c && c !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  const name = parts.pop()!;
  for (const dir of dirsTopFirst) {
    let cur = dir;
    let missing = false;
    for (const c of parts) {
      cur = join(cur, c);
      const st = await lstat(cur).catch(() => undefined);
      if (!st) {
        missing = true;
        break;
      }
      // A file, symlink or whiteout here covers this path in every layer below.
      if (!st.isDirectory()) return undefined;
    }
    if (missing) continue;
    const p = join(cur, name);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (!st.isFile()) return undefined;
    return readRegular(p);
  }
  return undefined;
}

/** Opens without following links or blocking on a FIFO, then checks what was opened. */
async function readRegular(p: string): Promise<string | undefined> {
  const fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Reads a small file from an overlay stack before it is mounted: the first layer (top first) that has
 * the path wins; an overlay whiteout (a 0:0 character device) hides it; a symlink is not followed.
 */
export async function readFromLayers(dirsTopFirst: readonly string[], relPath: string): Promise<string | undefined> {
  const rel = relPath.replace(/^\/+/, '');
  for (const dir of dirsTopFirst) {
    const p = join(dir, rel);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    if (!st.isFile()) return undefined;
    if (st.size > 4 * 1024 * 1024) return undefined;
    return readFile(p, 'utf8');
  }
  return undefined;
}

/**
 * File-tree helpers the unpack worker needs, kept apart from `store.ts` so a worker thread does not load the store
 * and the configuration (each worker isolate compiles what it imports). `store.ts` re-exports them.
 */
import { chmod, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Whether an error, or one of its causes, is a filesystem out of space or quota. */
export function isDiskFull(e: unknown): boolean {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 6; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'ERR_STORE_FULL') return true;
  }
  return false;
}

/** rm -rf that also copes with read-only directories inside (layer trees have them). */
export async function removeTree(p: string): Promise<void> {
  try {
    await rm(p, { recursive: true, force: true });
  } catch {
    const walk = async (d: string): Promise<void> => {
      await chmod(d, 0o700).catch(() => {});
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory()) await walk(path.join(d, e.name));
      }
    };
    await walk(p);
    await rm(p, { recursive: true, force: true });
  }
}

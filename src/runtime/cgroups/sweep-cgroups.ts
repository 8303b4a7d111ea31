import { readdir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { logger } from '../../internal/debug.js';
import type { CgroupEnvironment } from './types.js';

const log = logger('cgroups');

/**
 * Removes per-container cgroups left behind by killed slipway processes: every directory under the slipway parents
 * that holds no process (the kernel refuses `rmdir` on a populated cgroup with EBUSY, so live containers are safe)
 * and is older than `minAgeMs` (so a cgroup another process just created, before it added the container, survives).
 *
 * @returns the directories removed.
 */
export async function sweepCgroups(env: CgroupEnvironment, { minAgeMs = 60_000 }: { minAgeMs?: number } = {}): Promise<string[]> {
  const removed: string[] = [];
  const now = Date.now();
  for (const parent of new Set(Object.values(env.parents))) {
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const dir = join(parent, e.name);
      try {
        const st = await stat(dir);
        if (now - st.mtimeMs < minAgeMs && now - st.ctimeMs < minAgeMs) continue;
        await rmdir(dir);
        removed.push(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EBUSY' && code !== 'ENOENT') log('sweep: cannot remove %s: %s', dir, (err as Error).message);
      }
    }
  }
  if (removed.length) log('swept %d stale cgroups', removed.length);
  return removed;
}

import { statfsSync } from 'node:fs';

/** `f_type` of a tmpfs (statfs(2)): its files are kept in memory (and swap). */
export const TMPFS_MAGIC = 0x01021994;

/** Where a container's writable layer goes, and why (for the debug log). */
export interface UpperPlacement {
  where: 'state' | 'store';
  why: string;
}

/**
 * Where a container's writable layer (`upper/`, `work/`) goes: `'store'` (a temp dir of the image store, on disk)
 * when the keeper's state dir is on a tmpfs the user did not choose, else `'state'` (the container's state dir).
 * The automatic state dir (`/run/slipway`, `$XDG_RUNTIME_DIR/slipway`) is a RAM-backed tmpfs of 10-20% of memory on
 * systemd hosts: one data-heavy container would fill it (ENOSPC for every container, and for host services using
 * `/run` as root). A `stateDir` set explicitly is respected, and nothing moves when the store is a tmpfs too.
 * A keeper decides it once per store root (`Keeper.upperPlacement`), not per start: two statfs.
 * @param explicitStateDir - whether the state dir was chosen (the `stateDir` setting) rather than found.
 * @param statfs - statfs(2) (a fake in tests); a path it cannot read counts as not a tmpfs.
 */
export function upperPlacement(
  stateDir: string, storeRoot: string, explicitStateDir: boolean,
  statfs: (path: string) => { type: number } = statfsSync,
): UpperPlacement {
  if (explicitStateDir) return { where: 'state', why: 'the stateDir setting is explicit' };
  if (!isTmpfs(stateDir, statfs)) return { where: 'state', why: `${stateDir} is not a tmpfs` };
  if (isTmpfs(storeRoot, statfs)) return { where: 'state', why: `the store ${storeRoot} is a tmpfs too` };
  return { where: 'store', why: `${stateDir} is a tmpfs (memory), the store is not` };
}

function isTmpfs(path: string, statfs: (path: string) => { type: number }): boolean {
  try {
    return statfs(path).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

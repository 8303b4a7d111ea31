/**
 * A container's change as a layer tar: its overlay upper dir through `image/layer-diff.ts` (never following a link,
 * so a running, hostile container cannot make it read a host file), owners mapped back through the keeper's id map,
 * and the mount points the runtime itself made left out. Used by the builder's RUN steps and by `commit()`.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { diffUpperDir, type LayerDiff } from '../image/layer-diff.js';
import type { IdMapLine } from './keeper/id-mapping.js';
import type { Keeper } from './keeper/keeper.js';

/** Paths the runtime creates as mount points when the image lacks them: not part of the container's change. */
const MOUNT_STUBS = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'dev', 'proc', 'sys']);

/** Host id → the container's id through one direction of an id map. */
export function mapBack(lines: readonly IdMapLine[]): (host: number) => number {
  if (lines.length === 0) return (n) => n;
  return (host) => {
    for (const l of lines) if (host >= l.outside && host < l.outside + l.count) return l.inside + (host - l.outside);
    return 65534; // an id outside the mapping reads as the overflow id, as inside the namespace
  };
}

async function existsInLayers(dirsTopFirst: readonly string[], rel: string): Promise<boolean> {
  for (const d of dirsTopFirst) if (await lstat(join(d, rel)).then(() => true, () => false)) return true;
  return false;
}

/**
 * Writes the change in `upper` (over the layers `lowersTopFirst`) as a layer tar to `dest`. `mountTargets` are the
 * container's mount points: each (and the parents the runtime made for it) is left out while it holds only stubs.
 * @throws SlipwayError `ERR_STORE` when an entry cannot be read (see `diffUpperDir`)
 */
export async function diffContainerUpper(keeper: Keeper, upper: string, lowersTopFirst: readonly string[], dest: string, mountTargets: readonly string[] = []): Promise<LayerDiff> {
  const stubs = new Set<string>();
  const candidates = new Set(MOUNT_STUBS);
  // A mount's target (and parents the runtime made for it) is a stub too, while it holds only stubs.
  for (const m of mountTargets) {
    for (let t = m.replace(/^\/+/, ''); t && t !== '.'; t = posix.dirname(t)) candidates.add(t);
  }
  for (const s of candidates) if (!(await existsInLayers(lowersTopFirst, s))) stubs.add(s);
  // A directory holds only stubs when each entry is a stub: an empty file (a file mount's point) or such a directory.
  const onlyStubs = (rel: string): boolean => {
    try {
      return readdirSync(join(upper, rel), { withFileTypes: true }).every((d) => {
        const child = `${rel}/${d.name}`;
        if (!stubs.has(child)) return false;
        if (d.isDirectory()) return onlyStubs(child);
        return d.isFile() && lstatSync(join(upper, child)).size === 0;
      });
    } catch {
      return false;
    }
  };
  return diffUpperDir(upper, dest, {
    mapUid: keeper.mapping.kind === 'identity' ? undefined : mapBack(keeper.mapping.uidMap),
    mapGid: keeper.mapping.kind === 'identity' ? undefined : mapBack(keeper.mapping.gidMap),
    // A stub is left out only while it is still what the runtime made (an empty file or directory).
    exclude: (rel, st) => stubs.has(rel) && ((st.isFile() && st.size === 0) || (st.isDirectory() && onlyStubs(rel))),
  });
}

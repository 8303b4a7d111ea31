// Fresh filesystems for scenario 1 (cold pull). Why: this VM's root ext4 has no journal, and after a delete new
// files' open(O_CREAT) scans the recently freed directory slots and inodes (~35% of a pull's CPU samples in `perf
// record -g`, session 5). The bench deletes each tool's tree before the next pull, so on the plain disk the order of
// the tools and how much was deleted before decide the result as much as the tools do. A store on a fresh journaled
// ext4 (a loop device made for each run, not timed) starts every pull from the same state.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { has, sh, sleep } from './proc.mjs';

/** Whether fresh loop filesystems can be made here (root, mkfs.ext4, mount -o loop). */
export async function canMakeFreshDisks() {
  return process.getuid?.() === 0 && (await has('mkfs.ext4')) && (await has('mount'));
}

/**
 * Makes a fresh journaled ext4 (a sparse image file of `sizeGiB` beside `dir`), mounts it at `dir` and returns its
 * unmount-and-delete function. mkfs' defaults: journal, lazy inode table init (so mkfs takes ~60 ms).
 */
export async function freshDisk(dir, sizeGiB = 6) {
  const image = `${dir}.img`;
  mkdirSync(dir, { recursive: true });
  await sh('truncate', ['-s', `${sizeGiB}G`, image]);
  await sh('mkfs.ext4', ['-q', '-F', image]);
  await sh('mount', ['-o', 'loop', image, dir]);
  return async () => {
    await sh('umount', [dir], { allowFail: true });
    rmSync(image, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * After a delete on a disk we cannot replace (dockerd's and podman's stores): write everything back and wait, so
 * the next pull does not pay for the previous tool's writeback. Not timed.
 */
export async function settle(ms) {
  await sh('sync');
  if (ms > 0) await sleep(ms);
}

/** A directory for a fresh-disk mount under the bench's work dir. */
export const mountPoint = (ctx, name) => join(ctx.tmp(name), 'mnt');

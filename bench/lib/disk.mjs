// Fresh filesystems for scenario 1 (cold pull). Why: this VM's root ext4 has no journal, and after a delete new
// files' open(O_CREAT) scans the recently freed directory slots and inodes (~35% of a pull's CPU samples in `perf
// record -g`, session 5). The bench deletes each tool's tree before the next pull, so on the plain disk the order of
// the tools and how much was deleted before decide the result as much as the tools do. A store on a fresh journaled
// ext4 (a loop device made for each run, not timed) starts every pull from the same state. Every tool of scenario 1
// (docker's and podman's stores too, through a dockerd and podman store of the bench's own: lib/side-engines.mjs)
// and the floor (curl | gzip -dc | tar x) pull onto such a disk, so the ratios compare tools, not disks.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { has, sh, sleep } from './proc.mjs';

/** Whether fresh loop filesystems can be made here (root, mkfs.ext4, mount -o loop). */
export async function canMakeFreshDisks() {
  return process.getuid?.() === 0 && (await has('mkfs.ext4')) && (await has('mount'));
}

/** Unmounts (lazily) everything mounted at or below `dir`, deepest first. */
export async function unmountBelow(dir) {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .reverse();
  for (const m of mounts) await sh('umount', ['-l', m], { allowFail: true });
}

/**
 * Makes a fresh journaled ext4 (a sparse image file of `sizeGiB` beside `dir`), mounts it at `dir` and returns its
 * unmount-and-delete function. mkfs' defaults: journal, lazy inode table init (so mkfs takes ~60 ms); mounted with
 * `noinit_itable`, else the kernel's ext4lazyinit thread zeroes ~96 MiB of inode tables in the background while the
 * timed pull runs, more or less of it depending on how long the untimed setup took (a dockerd's start: ~1 s). The
 * image file is sparse, so the tables read as zeros anyway.
 */
export async function freshDisk(dir, sizeGiB = 6) {
  const image = `${dir}.img`;
  mkdirSync(dir, { recursive: true });
  await sh('truncate', ['-s', `${sizeGiB}G`, image]);
  await sh('mkfs.ext4', ['-q', '-F', image]);
  await sh('mount', ['-o', 'loop,noinit_itable', image, dir]);
  return async () => {
    await unmountBelow(dir);
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

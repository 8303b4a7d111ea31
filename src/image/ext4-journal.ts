/**
 * Whether a directory sits on ext4 without a journal, where the store's layers should be placed in empty block
 * groups (see `ImageStore`'s TOPDIR flag). Read from the kernel's own listings, no privilege needed:
 * `/sys/dev/block/<major>:<minor>` names the block device, `/proc/fs/ext4/<name>` exists for a mounted ext4 (and ext2/3
 * through the ext4 driver), `/proc/fs/jbd2/<name>-<journal inode>` only when it has a journal.
 */
import { existsSync, readdirSync, readlinkSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';

const EXT4_SUPER_MAGIC = 0xef53;

/** Where the kernel lists things, replaceable for tests. */
export interface KernelListings { sys: string; proc: string }

const HOST: KernelListings = { sys: '/sys', proc: '/proc' };

/** The block device name (`vda`, `loop3`, `dm-0`) of a `st_dev`, as glibc's `major()`/`minor()` split it. */
function deviceName(dev: number, at: KernelListings): string | undefined {
  const major = Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);
  try {
    return path.basename(readlinkSync(path.join(at.sys, 'dev/block', `${major}:${minor}`)));
  } catch {
    return undefined; // no block device: tmpfs, overlay, btrfs subvolumes, NFS…
  }
}

/**
 * `true` when `dir` is on ext2/3/4 mounted without a journal, `false` otherwise (a journal, another filesystem, or
 * nothing could be told).
 */
export function isExt4WithoutJournal(dir: string, at: KernelListings = HOST): boolean {
  try {
    if (at === HOST && statfsSync(dir).type !== EXT4_SUPER_MAGIC) return false;
    const name = deviceName(statSync(dir).dev, at);
    if (!name || !existsSync(path.join(at.proc, 'fs/ext4', name))) return false;
    return !readdirSync(path.join(at.proc, 'fs/jbd2')).some((j) => j.startsWith(`${name}-`));
  } catch {
    return false;
  }
}

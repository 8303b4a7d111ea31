/**
 * The few syscalls Node lacks, called in-process through ffi-rs: mknod (overlay whiteouts, device nodes,
 * fifos), lsetxattr (opaque dirs, layer xattrs), flock (store locks) and the TOPDIR inode flag. Never fork/unshare here.
 */
import { createRequire } from 'node:module';
import { moduleUrl } from '../internal/module-url.js';

const requireCjs = createRequire(moduleUrl);

type Ffi = typeof import('ffi-rs');
let ffi: Ffi | undefined;

function lib(): Ffi {
  if (!ffi) {
    ffi = requireCjs('ffi-rs') as Ffi;
    ffi.open({ library: 'slipway-libc', path: 'libc.so.6' });
  }
  return ffi;
}

/** Raised when a syscall fails; `code` is the errno name (e.g. `EPERM`). */
export class SyscallError extends Error {
  constructor(readonly syscall: string, readonly errno: number, readonly code: string, readonly path?: string) {
    super(`${syscall}${path ? ` ${path}` : ''}: ${code}`);
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 11: 'EAGAIN', 13: 'EACCES', 17: 'EEXIST', 20: 'ENOTDIR', 22: 'EINVAL', 28: 'ENOSPC',
  30: 'EROFS', 38: 'ENOSYS', 61: 'ENODATA', 95: 'ENOTSUP', 34: 'ERANGE', 7: 'E2BIG', 9: 'EBADF', 4: 'EINTR',
};

function call(name: string, ret: number, params: number[], values: unknown[], path?: string): number {
  const f = lib();
  const r = f.load({
    library: 'slipway-libc', funcName: name, retType: ret as never, paramsType: params as never, paramsValue: values, errno: true,
  }) as unknown as { value: number; errnoCode: number };
  if (r.value === -1) throw new SyscallError(name, r.errnoCode, ERRNO_NAMES[r.errnoCode] ?? `errno ${r.errnoCode}`, path);
  return r.value;
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** `makedev` as glibc encodes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mknod(2). @throws {@link SyscallError} */
export function mknod(path: string, mode: number, dev: bigint = 0n): void {
  const D = lib().DataType;
  call('mknod', D.I32, [D.String, D.I32, D.BigInt], [path, mode, dev], path);
}

/** lsetxattr(2) (does not follow symlinks). @throws {@link SyscallError} */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  const D = lib().DataType;
  // A zero-length U8Array may be passed as NULL; size 0 makes that fine.
  call('lsetxattr', D.I32, [D.String, D.String, D.U8Array, D.U64, D.I32], [path, name, value.length ? value : Buffer.alloc(1), value.length, 0], path);
}

/** lgetxattr(2): returns the value or undefined when absent. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const D = lib().DataType;
  const buf = Buffer.alloc(65536);
  try {
    const n = call('lgetxattr', D.I32, [D.String, D.String, D.U8Array, D.U64], [path, name, buf, buf.length], path);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof SyscallError && e.code === 'ENODATA') return undefined;
    throw e;
  }
}

const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

/**
 * Sets or clears a directory's TOPDIR flag (`chattr +T`/`-T`): ext2/3/4's Orlov allocator then places each directory
 * made in it in an empty block group (with its files), instead of beside its parent. Returns whether it changed.
 * @throws {@link SyscallError} where the filesystem has no inode flags (ENOTTY, EOPNOTSUPP)
 */
export function setTopDirFlag(fd: number, on: boolean): boolean {
  const D = lib().DataType;
  const flags = Buffer.alloc(4);
  call('ioctl', D.I32, [D.I32, D.U64, D.U8Array], [fd, FS_IOC_GETFLAGS, flags]);
  const now = flags.readInt32LE(0);
  if (Boolean(now & FS_TOPDIR_FL) === on) return false;
  flags.writeInt32LE(on ? now | FS_TOPDIR_FL : now & ~FS_TOPDIR_FL, 0);
  call('ioctl', D.I32, [D.I32, D.U64, D.U8Array], [fd, FS_IOC_SETFLAGS, flags]);
  return true;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** Non-blocking exclusive flock(2); returns false when another open file description holds it. */
export function tryFlock(fd: number): boolean {
  const D = lib().DataType;
  try {
    call('flock', D.I32, [D.I32, D.I32], [fd, LOCK_EX | LOCK_NB]);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && (e.code === 'EAGAIN' || e.errno === 11)) return false;
    throw e;
  }
}

/** flock(fd, LOCK_UN). */
export function funlock(fd: number): void {
  const D = lib().DataType;
  call('flock', D.I32, [D.I32, D.I32], [fd, LOCK_UN]);
}

/**
 * Loads ffi-rs on this thread. Call on the main thread before starting workers that use these syscalls:
 * an addon first loaded by a worker thread is unloaded when that worker exits, which crashes the process
 * (observed with ffi-rs 1.3.7: SIGSEGV at worker exit).
 */
export function preloadSyscalls(): void {
  lib();
}

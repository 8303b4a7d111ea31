import { statfsSync } from 'node:fs';

const ZEROS = Buffer.alloc(1 << 16);

/** Whether every byte of `chunk` is zero (a writer can leave it as a hole and keep a sparse file sparse). */
export function isZeros(chunk: Buffer): boolean {
  for (let off = 0; off < chunk.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, chunk.length - off);
    if (!chunk.subarray(off, off + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}

/** `"<free> MiB free of <size> MiB"` for the file system holding `dir`, for an out-of-space message; throws if unknown. */
export function freeSpaceOf(dir: string): string {
  const st = statfsSync(dir);
  const mib = (blocks: number): string => `${Math.floor((blocks * st.bsize) / (1 << 20))} MiB`;
  return `${mib(st.bavail)} free of ${mib(st.blocks)}`;
}

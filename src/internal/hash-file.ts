import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Hash } from 'node:crypto';

/**
 * Feeds a host file's bytes to `h` in 1 MiB reads (the same digest as hashing it whole). A copy source named for a
 * snapshot or reuse key may be gigabytes: read whole it was held in memory, and above 2 GiB the read failed.
 * Never follows a link and never waits on a FIFO; what is not a regular file once opened adds nothing.
 */
export async function hashFileInto(h: Hash, path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) return;
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

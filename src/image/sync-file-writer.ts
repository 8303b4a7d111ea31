import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';

/** A streaming writer for one blob; nothing is visible under `blobs/` until {@link BlobWriter.commit}. */
export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /** Closes the file and publishes it (the caller has verified the digest while streaming). */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Writes a new file (`wx`) chunk by chunk with synchronous writes — cheaper than a threadpool hop per
 * chunk; the page cache absorbs them. `commit` closes it, then runs `publish` (e.g. a rename into place);
 * `abort` closes and deletes it. No dependencies, so the unpack worker thread can use it too.
 */
export function syncFileWriter(path: string, publish: () => Promise<void> = async () => {}): BlobWriter & { writeSync(chunk: Uint8Array): void } {
  const fd = openSync(path, 'wx', 0o644);
  let closed = false;
  const close = (): void => {
    if (!closed) {
      closed = true;
      closeSync(fd);
    }
  };
  const write = (chunk: Uint8Array): void => {
    let off = 0;
    while (off < chunk.length) off += writeSync(fd, chunk, off);
  };
  return {
    writeSync: write,
    write: async (chunk) => write(chunk),
    commit: async () => {
      close();
      await publish();
    },
    abort: async () => {
      close();
      await rm(path, { force: true });
    },
  };
}

import { posix } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { KeeperFileEntry } from './keeper/keeper.js';

/** What {@link readContainerFile} needs of the keeper. */
export interface ContainerFileSource {
  getFiles(id: string, path: string, opts?: { topOnly?: boolean }): AsyncIterable<KeeperFileEntry>;
}

const MAX_HOPS = 8;

/**
 * Reads a small text file of a created or running container *inside its mount namespace* (the
 * keeper's GET joins it), never by a host path: after START everything under the upper dir is the
 * container's to swap for a symlink to a host file, a FIFO or a device. Symlinks are followed
 * inside the container (at most 8 hops); anything but a regular file, a missing path, or a file
 * above `maxBytes` reads as `undefined`.
 */
export async function readContainerFile(keeper: ContainerFileSource, id: string, path: string, maxBytes = 1 << 20): Promise<string | undefined> {
  let p = path;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const e = await firstEntry(keeper, id, p);
    if (!e) return undefined;
    if (e.type === 'symlink' && e.linkTarget) {
      p = posix.resolve(posix.dirname(p), e.linkTarget);
      continue;
    }
    if (e.type !== 'file' || !e.content || e.content.length > maxBytes) return undefined;
    return e.content.toString('utf8');
  }
  return undefined;
}

async function firstEntry(keeper: ContainerFileSource, id: string, path: string): Promise<KeeperFileEntry | undefined> {
  // Top only: whatever the container put there, a directory's tree is never sent to us.
  const it = keeper.getFiles(id, path, { topOnly: true })[Symbol.asyncIterator]();
  try {
    const first = await it.next();
    return first.done ? undefined : first.value;
  } catch (err) {
    // A FIFO, socket or device there (ERR_UNSUPPORTED) is no file either.
    if (isMissing(err) || SlipwayError.is(err, 'ERR_UNSUPPORTED')) return undefined;
    throw err;
  } finally {
    await it.return?.(undefined)?.catch(() => {});
  }
}

function isMissing(err: unknown): boolean {
  if ((err as { code?: string } | undefined)?.code === 'ERR_COPY_SOURCE_MISSING') return true;
  const { stage, errno } = (err ?? {}) as { stage?: string; errno?: number };
  // ENOENT, ENOTDIR, ELOOP on the way; EFBIG: above the GET's own cap.
  return SlipwayError.is(err, 'ERR_RUNTIME') && typeof stage === 'string' && stage.startsWith('get ') && [2, 20, 40, 27].includes(errno ?? -1);
}

/**
 * A layer file write that fails for want of space is ERR_STORE_FULL naming ENOSPC, even though the decompressor is
 * still reading ahead and its blob write after the abort fails too (EBADF on the closed blob). CI's store-full
 * integration test saw "EBADF: bad file descriptor, write" when the later error was the one reported.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { makeLayer } from './helpers/fake-registry.js';

const state = vi.hoisted(() => ({ full: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((fd: number, ...rest: unknown[]) => {
    if (state.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});
const { unpackLayer } = await import('../../../src/image/unpack.js');

let base = '';
afterEach(async () => {
  state.full = false;
  if (base) await rm(base, { recursive: true, force: true });
});

test('a full disk while writing a layer file is ERR_STORE_FULL with ENOSPC, not the blob write that follows the abort', async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'slipway-unpack-full-'));
  await mkdir(path.join(base, 'layer'));
  const layer = await makeLayer([{ name: 'big', content: randomBytes(4 << 20) }, { name: 'after', content: 'x' }]);
  let aborted = false;
  const blobWriter = {
    write: async (): Promise<void> => {
      if (aborted) throw Object.assign(new Error('EBADF: bad file descriptor, write'), { code: 'EBADF', errno: -9, syscall: 'write' });
    },
    commit: async (): Promise<void> => {},
    abort: async (): Promise<void> => {
      aborted = true;
    },
  };
  async function* source(): AsyncGenerator<Buffer> {
    for (let off = 0; off < layer.blob.length; off += 16 << 10) {
      if (off > 64 << 10) state.full = true; // the disk fills once the big file has started
      yield layer.blob.subarray(off, off + (16 << 10));
      await new Promise((r) => setImmediate(r));
    }
  }
  const e = await unpackLayer({
    source: source(), dir: path.join(base, 'layer'), digest: layer.digest, diffId: layer.diffId, size: layer.blob.length,
    blobWriter, ownershipListPath: path.join(base, 'owners'), applyOwnership: async () => {},
  }).then(() => undefined, (x: unknown) => x);
  expect(SlipwayError.is(e, 'ERR_STORE_FULL'), String(e)).toBe(true);
  expect((e as SlipwayError).cause).toMatchObject({ code: 'ENOSPC' });
});

/**
 * Hole (CI, store-full.test.ts): a build layer whose disk filled up while a file entry was being streamed ended the
 * test process with an uncaught ENOSPC. tar-stream destroys the open entry with the pack's error and the entry emits
 * 'error' whether anyone listens or not. /dev/full plays the full disk: every write to it fails with ENOSPC.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { LayerWriter } from '../../../src/image/layer-diff.js';

const uncaught: unknown[] = [];
const record = (e: unknown): void => { uncaught.push(e); };

describe('LayerWriter on a full disk', () => {
  afterEach(() => { process.off('uncaughtException', record); uncaught.length = 0; });

  test('a streamed file whose chunks arrive slowly fails with ENOSPC from addFile, never as an uncaught exception', async () => {
    process.on('uncaughtException', record);
    const w = new LayerWriter('/dev/full');
    await w.add({ name: 'dir/', type: 'directory', mode: 0o755 });
    async function* slow(): AsyncGenerator<Buffer> {
      // Enough to fill the pack's buffer, then pauses between chunks so the pack fails while the writer waits on
      // the source, not on 'drain'.
      for (let i = 0; i < 64; i++) {
        yield Buffer.alloc(1 << 20, 1);
        await sleep(5);
      }
    }
    const err = await w.addFile({ name: 'dir/big' }, 64 << 20, slow()).then(() => undefined, (e: unknown) => e);
    expect((err as NodeJS.ErrnoException | undefined)?.code ?? String(err)).toMatch(/ENOSPC|destroyed/);
    await w.abort(err);
    await sleep(50);
    expect(uncaught).toEqual([]);
  });

  test('small entries queued behind a failed one reject with the failure, and nothing is uncaught', async () => {
    process.on('uncaughtException', record);
    const w = new LayerWriter('/dev/full');
    const adds = Array.from({ length: 200 }, (_, i) => w.add({ name: `f${i}`, mode: 0o644 }, Buffer.alloc(64 << 10, i)));
    const results = await Promise.allSettled(adds);
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
    await expect(w.finish()).rejects.toMatchObject({ code: 'ENOSPC' });
    await sleep(50);
    expect(uncaught).toEqual([]);
  });
});

import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageStore } from '../../../src/image/store.js';

const CHAIN = `sha256:${'b'.repeat(64)}`;

async function committedLayer(): Promise<{ store: ImageStore; dir: string }> {
  const store = new ImageStore(join(mkdtempSync(join(tmpdir(), 'slipway-marker-')), 'store'));
  const tmp = await store.layerTempDir(CHAIN);
  mkdirSync(join(tmp, 'bin'));
  mkdirSync(join(tmp, 'etc'));
  writeFileSync(join(tmp, 'bin', 'sh'), 'ELF...');
  writeFileSync(join(tmp, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  const dir = await store.commitLayer(tmp, 'identity', CHAIN);
  return { store, dir };
}

describe('layer completeness marker', () => {
  it('marks a committed layer ready, beside it (not inside, where the container would see it)', async () => {
    const { store, dir } = await committedLayer();
    expect(await store.layerReady('identity', CHAIN)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['bin', 'etc']);
    expect(existsSync(`${dir}.ok`)).toBe(true);
  });

  it('a layer without its marker (killed pull, or rm -rf that got to the marker) is not ready', async () => {
    const { store, dir } = await committedLayer();
    unlinkSync(`${dir}.ok`);
    expect(await store.layerReady('identity', CHAIN)).toBe(false);
  });

  it('a marker whose layer lost files (rm -rf interrupted after the files) is not valid', async () => {
    const { store, dir } = await committedLayer();
    unlinkSync(join(dir, 'bin', 'sh'));
    expect(await store.layerReady('identity', CHAIN)).toBe(false);
    const again = await committedLayer();
    rmSync(again.dir, { recursive: true });
    expect(await again.store.layerReady('identity', CHAIN)).toBe(false);
  });

  it('a marker naming another chain is not valid; discardLayer moves the layer away so it can be unpacked again', async () => {
    const { store, dir } = await committedLayer();
    writeFileSync(`${dir}.ok`, JSON.stringify({ chainId: `sha256:${'c'.repeat(64)}`, samples: [] }));
    expect(await store.layerReady('identity', CHAIN)).toBe(false);
    await store.discardLayer('identity', CHAIN);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${dir}.ok`)).toBe(false);
  });
});

/**
 * A compression bomb of real data: a gzip layer of a few KiB that expands to far more real (non-zero) file bytes.
 * Before, only the pull timeout (10 min) and a full disk stopped it: a layer of a few MiB could write tens of GiB to
 * the store (zeros were already left as holes). Now a layer may write its first GiB (here `expansionFree`, made small)
 * plus `layerExpansionLimit` (100) times its compressed size; past that it is ERR_LAYER_TOO_LARGE naming the setting,
 * and nothing of it is kept. Holes do not count, and real fixture layers expand 2-4x (checked on every fixture).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { unpackLayer } from '../../../src/image/unpack.js';
import { loadConfig } from '../../../src/config/index.js';
import { makeLayer } from './helpers/fake-registry.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'slipway-bomb-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

async function unpack(blob: Buffer, limit: number): Promise<unknown> {
  const dir = path.join(base, `layer-${n++}`);
  mkdirSync(dir);
  try {
    await unpackLayer({
      source: Readable.from([blob]), dir, ownershipListPath: `${dir}.owners`, applyOwnership: async () => {},
      expansionLimit: limit, expansionFree: 1 << 20,
    });
    return 'unpacked';
  } catch (e) {
    expect(existsSync(dir), 'a refused layer leaves nothing').toBe(false);
    return e;
  }
}

describe('a layer that expands far beyond its compressed size', () => {
  it('is ERR_LAYER_TOO_LARGE naming the setting; real data, holes and a raised limit pass', async () => {
    const bomb = await makeLayer([{ name: 'a', content: Buffer.alloc(32 << 20, 'a') }, { name: 'b', content: Buffer.alloc(32 << 20, 'b') }]);
    expect(bomb.blob.length).toBeLessThan(256 << 10); // 64 MiB of letters in ~64 KiB of gzip
    const e = await unpack(bomb.blob, 100);
    expect(e).toBeInstanceOf(SlipwayError);
    expect((e as SlipwayError).code).toBe('ERR_LAYER_TOO_LARGE');
    expect((e as SlipwayError).message).toMatch(/layerExpansionLimit/);
    expect((e as SlipwayError).hint).toMatch(/SLIPWAY_LAYER_EXPANSION_LIMIT/);
    expect(await unpack(bomb.blob, Infinity)).toBe('unpacked');
    expect(await unpack(bomb.blob, 2000)).toBe('unpacked');

    // Incompressible data, and zeros (left as holes, not counted), unpack under the default ratio.
    expect(await unpack((await makeLayer([{ name: 'r', content: randomBytes(4 << 20) }])).blob, 100)).toBe('unpacked');
    expect(await unpack((await makeLayer([{ name: 'z', content: Buffer.alloc(64 << 20) }])).blob, 100)).toBe('unpacked');
  }, 120_000);

  it('the default is 100 (SLIPWAY_LAYER_EXPANSION_LIMIT sets it, Infinity turns it off; a bad value is ERR_CONFIG)', () => {
    expect(loadConfig({ env: {} }).values.layerExpansionLimit).toBe(100);
    expect(loadConfig({ env: { SLIPWAY_LAYER_EXPANSION_LIMIT: 'Infinity' } }).values.layerExpansionLimit).toBe(Infinity);
    expect(() => loadConfig({ env: { SLIPWAY_LAYER_EXPANSION_LIMIT: '-3' } })).toThrow(/SLIPWAY_LAYER_EXPANSION_LIMIT/);
  });
});

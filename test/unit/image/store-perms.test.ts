import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { ImageStore } from '../../../src/image/store.js';

const modeOf = (p: string): number => statSync(p).mode & 0o7777;

describe('image store permissions', () => {
  it('creates the store and its top directories 0700', async () => {
    const base = mkdtempSync(join(tmpdir(), 'slipway-store-perms-'));
    const store = new ImageStore(join(base, 'store'));
    await store.init();
    expect(modeOf(store.root)).toBe(0o700);
    for (const d of ['blobs', 'layers', 'refs', 'tmp', 'locks']) expect(modeOf(join(store.root, d))).toBe(0o700);
    const layer = await store.layerTempDir(`sha256:${'a'.repeat(64)}`);
    await store.commitLayer(layer, 'identity', `sha256:${'a'.repeat(64)}`);
    expect(modeOf(join(store.root, 'layers', 'identity'))).toBe(0o700);
  });

  it('tightens an existing world-readable store of ours, so a 0666 node or 0777 dir from a layer is out of reach', async () => {
    const base = mkdtempSync(join(tmpdir(), 'slipway-store-perms-'));
    chmodSync(base, 0o755);
    const root = join(base, 'store');
    // The old layout: a 0755 store holding a world-writable file from a layer.
    mkdirSync(join(root, 'layers', 'identity', 'x'), { recursive: true, mode: 0o755 });
    chmodSync(root, 0o755);
    writeFileSync(join(root, 'layers', 'identity', 'x', 'open'), 'data');
    chmodSync(join(root, 'layers', 'identity', 'x', 'open'), 0o666);
    await new ImageStore(root).init();
    expect(modeOf(root)).toBe(0o700);
    if (process.getuid!() === 0) {
      // Another user of the host cannot reach it any more.
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `echo x >> ${join(root, 'layers', 'identity', 'x', 'open')}`]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.toString()).toMatch(/Permission denied/);
    }
  });

  it('refuses a store root that is a symlink, naming the path', async () => {
    const base = mkdtempSync(join(tmpdir(), 'slipway-store-perms-'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'slipway-store-target-'));
    symlinkSync(elsewhere, join(base, 'store'));
    const err = await new ImageStore(join(base, 'store')).init().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_STORE')).toBe(true);
    expect((err as SlipwayError).message).toContain(join(base, 'store'));
    expect((err as SlipwayError).hint).toMatch(/SLIPWAY_CACHE_DIR/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

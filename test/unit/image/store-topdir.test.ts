// ext4 without a journal skips every inode of a block group deleted in the last minute when it allocates one, so a
// pull right after a large delete crawled (32 s instead of 8 s for postgres). The store's tmp/, where layers are
// unpacked, carries the TOPDIR flag: ext4 then places each layer dir in an empty block group.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageStore } from '../../../src/image/store.js';

/** `lsattr -d` flags of a directory, or undefined where the filesystem or the command has none. */
function attrs(dir: string): string | undefined {
  const r = spawnSync('lsattr', ['-d', dir], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(' ')[0] : undefined;
}

describe('image store layout on ext4', () => {
  it('marks tmp/ (where layers unpack) TOPDIR, and an existing store too', async (ctx) => {
    const base = mkdtempSync(join(tmpdir(), 'slipway-store-topdir-'));
    try {
      if (attrs(base) === undefined) ctx.skip(); // tmpfs, or no lsattr: no inode flags to set
      const store = new ImageStore(join(base, 'store'));
      await store.init();
      expect(attrs(join(store.root, 'tmp'))).toContain('T');
      // A store made before: its tmp/ gets the flag at the next init.
      spawnSync('chattr', ['-T', join(store.root, 'tmp')]);
      expect(attrs(join(store.root, 'tmp'))).not.toContain('T');
      await new ImageStore(join(base, 'store')).init();
      expect(attrs(join(store.root, 'tmp'))).toContain('T');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

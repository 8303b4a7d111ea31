// A snapshot key hashes the withCopy() sources. They were read whole: a copy source above 2 GiB failed the start with
// a raw ERR_FS_FILE_TOO_LARGE, and a smaller one was held in memory whole. Now they are hashed in 1 MiB reads (the same
// digest, so no key changes). A 2.1 GiB sparse file stands in for the large source.
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fileDigest } from '../../../src/api/snapshot.js';

it('a copy source above 2 GiB is hashed without reading it whole; a small one keeps its digest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-digest-large-'));
  try {
    const big = join(dir, 'big');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, 2 ** 31 + (100 << 20));
    closeSync(fd);
    const rss0 = process.memoryUsage.rss();
    await expect(fileDigest({ target: '/big', source: big } as never)).resolves.toMatch(/^[0-9a-f]{64}$/);
    expect(process.memoryUsage.rss() - rss0).toBeLessThan(256 << 20);
    const small = join(dir, 'small');
    writeFileSync(small, 'hello');
    const h = createHash('sha256');
    h.update(JSON.stringify(['/small', null, null, false]));
    h.update('\0').update(`${(await import('node:fs')).lstatSync(small).mode}\0`).update('hello');
    expect(await fileDigest({ target: '/small', source: small } as never)).toBe(h.digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

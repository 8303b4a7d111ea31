/**
 * Hole: a build step whose layer did not fit in the store (a huge context file, a RUN that writes a lot) failed with
 * Node's bare ENOSPC error. It is now ERR_STORE_FULL naming the store, what is free and the fix, and the store keeps
 * nothing of the step (no temp tar, no layer).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { buildImage } from '../../../src/build/builder.js';
import { SlipwayError } from '../../../src/errors.js';
import { helperBuilt, isRoot, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';
import { context } from './build-helpers.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('build: a full store', () => {
  testUnless(isRoot(), 'filling a store needs a small tmpfs, and mounting one needs root')('a COPY layer that does not fit is ERR_STORE_FULL with the fix, and leaves nothing in the store', async () => {
    const ctx = await context({ Dockerfile: 'FROM scratch\nCOPY big /big\n', big: randomBytes(24_000_000) });
    const store = await mkdtemp(join(tmpdir(), 'slipway-build-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'slipway-test-build-full', store]);
    try {
      const e = await buildImage(ctx, { storeDir: store, tag: 'localhost/full:1' }).then(() => undefined, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_STORE_FULL'), String(e)).toBe(true);
      const err = e as SlipwayError;
      expect(err.shortMessage).toMatch(new RegExp(`^building COPY big /big # buildkit: the image store at ${store} is full .*; its filesystem has \\d+ MiB free of 8 MiB$`));
      expect(err.hint).toContain('SLIPWAY_CACHE_DIR');
      expect(await readdir(join(store, 'tmp'))).toEqual([]);
      expect(await readdir(join(store, 'layers'), { recursive: true }).catch(() => [])).toEqual([]);
    } finally {
      execFileSync('umount', [store]);
      await rm(store, { recursive: true, force: true });
      await rm(ctx, { recursive: true, force: true });
    }
  });
});

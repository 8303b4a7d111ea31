/**
 * Holes: a hostile container makes a huge sparse file (`truncate -s`, costs it nothing) and the test copies its
 * directory out: copyFrom wrote every zero, filling the host's disk (as `docker cp` does). And a copy that filled
 * the host's disk failed with Node's bare ENOSPC error and left the partly written file behind. Zero chunks are now
 * holes, and a full disk is ERR_COPY_HOST saying so, with the partial file removed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { fixtureRef, helperBuilt, isRoot, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';

const MiB = 1 << 20;

function causes(e: unknown): { code?: string }[] {
  const out: { code?: string }[] = [];
  for (let c = e, i = 0; c && i < 8; c = (c as { cause?: unknown }).cause, i++) out.push(c as { code?: string });
  return out;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: copyFrom and the host disk', () => {
  it('keeps a container\'s 256 MiB sparse file sparse on the host (holes, not written zeros)', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'mkdir /data && truncate -s 256M /data/sparse && echo tail >> /data/sparse']);
    const dir = await mkdtemp(join(tmpdir(), 'copy-disk-'));
    try {
      await c.copyFrom('/data', join(dir, 'data'));
      const st = await stat(join(dir, 'data', 'sparse'));
      expect(st.size).toBe(256 * MiB + 5);
      // The old copy wrote all of it: 256 MiB allocated on the host.
      expect(st.blocks * 512).toBeLessThan(16 << 20);
      const tail = execFileSync('tail', ['-c', '5', join(dir, 'data', 'sparse')], { encoding: 'utf8' });
      expect(tail).toBe('tail\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  testUnless(isRoot(), 'filling a host directory needs a small tmpfs, and mounting one needs root')('a copy that fills the host disk is ERR_COPY_HOST saying so, and leaves no partial file', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'head -c 24000000 /dev/urandom > /big']);
    const dir = await mkdtemp(join(tmpdir(), 'copy-disk-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'slipway-test-copy-full', dir]);
    try {
      const e = await c.copyFrom('/big', join(dir, 'big')).then(() => undefined, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_COPY_HOST'), String(e)).toBe(true);
      const err = e as SlipwayError;
      expect(err.shortMessage).toMatch(/no space left on its file system \(\d+ MiB free of 8 MiB\); the partly written file was removed/);
      expect(err.hint).toMatch(/free space/);
      expect(causes(e).map((x) => x.code)).toContain('ENOSPC');
      // The old copy threw Node's bare ENOSPC error and left an 8 MiB /big behind.
      expect(await readdir(dir)).toEqual([]);
    } finally {
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

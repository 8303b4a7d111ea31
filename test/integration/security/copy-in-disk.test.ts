/**
 * copyTo and the container's disk. A sparse host file copied in was read whole into Node's memory and every zero
 * written into the container's upper dir (a 256 MiB file of holes took 256 MiB there, in /run as root: a tmpfs).
 * And a copy that filled the container's file system failed with a bare `put file …: ENOSPC` keeper error and left
 * the partly written file behind, looking copied. Zero blocks are now holes, host files stream in 1 MiB chunks, and
 * a full disk is ERR_COPY_NO_SPACE naming the path and what is free, with the partial file removed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile, appendFile, readdir, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { hostEntries } from '../../../src/runtime/host-entries.js';
import { specFor, busyboxRootfs } from '../keeper/fixture.js';
import { engineRuntime, fixtureRef, helperBuilt, isRoot, nativeOnly, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';

const MiB = 1 << 20;

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: copyTo and the container disk', () => {
  nativeOnly('an engine\'s archive extraction writes every zero of a file copied in (as docker cp): it makes no holes')('keeps a 256 MiB sparse host file sparse in the container (holes, not written zeros)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'copy-in-disk-'));
    try {
      const src = join(dir, 'sparse');
      await writeFile(src, 'head\n');
      await truncate(src, 256 * MiB);
      await appendFile(src, 'tail\n');
      await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
      await c.copyTo(src, '/data/sparse');
      const r = await c.exec(['sh', '-c', 'stat -c "%s %b %B" /data/sparse; head -c 5 /data/sparse; tail -c 5 /data/sparse']);
      const [sizes, head, tail] = r.stdout.split('\n');
      const [size, blocks, blockSize] = sizes!.split(' ').map(Number);
      expect(size).toBe(256 * MiB + 5);
      // The old copy wrote every zero: 256 MiB allocated in the upper dir.
      expect(blocks! * blockSize!).toBeLessThan(16 * MiB);
      expect([head, tail]).toEqual(['head', 'tail']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a copy into a full tmpfs in the container is ERR_COPY_NO_SPACE naming the path, and leaves no partial file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'copy-in-full-'));
    try {
      const src = join(dir, 'big');
      await writeFile(src, randomBytes(12 * MiB));
      await using c = await new Container(fixtureRef('busybox')).withTmpfs('/small', { size: '4m' }).withCommand(['sleep', '1000']).start();
      const e = await c.copyTo(src, '/small/big').then(() => undefined, (x: unknown) => x);
      if (engineRuntime()) {
        // An engine's archive API writes beneath the tmpfs (the old engine copy "succeeded" with the file hidden): refused.
        expect(SlipwayError.is(e, 'ERR_UNSUPPORTED'), String(e)).toBe(true);
        expect((e as SlipwayError).shortMessage).toMatch(/\/small\/big .*tmpfs mounted at \/small/);
        expect((await c.exec(['ls', '-A', '/small'])).stdout.trim()).toBe('');
        const out = await c.copyFrom('/small').then(() => undefined, (x: unknown) => x);
        expect(SlipwayError.is(out, 'ERR_UNSUPPORTED'), String(out)).toBe(true);
        // At boot too: the copy before START would lie beneath the tmpfs mounted at START.
        const boot = await new Container(fixtureRef('busybox')).withTmpfs('/small').withFile('/small/f', 'x').withCommand(['sleep', '1000']).start().then(async (s) => { await s.remove(); }, (x: unknown) => x);
        expect(SlipwayError.is(boot, 'ERR_UNSUPPORTED'), String(boot)).toBe(true);
        return;
      }
      expect(SlipwayError.is(e, 'ERR_COPY_NO_SPACE'), String(e)).toBe(true);
      const err = e as SlipwayError;
      expect(err.shortMessage).toMatch(/\/small\/big: no space left on the container's file system \(\d+ MiB free of 4 MiB\); the partly written file was removed/);
      expect(err.hint).toMatch(/state dir/);
      // The old copy left a 4 MiB /small/big that looked copied.
      expect((await c.exec(['ls', '-A', '/small'])).stdout.trim()).toBe('');
      // The container's file system is usable again at once.
      await c.copyTo(Buffer.from('ok'), '/small/after');
      expect((await c.exec(['cat', '/small/after'])).stdout).toBe('ok');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  (engineRuntime() ? nativeOnly('it drives the keeper with an upper dir on a small tmpfs') : testUnless(isRoot(), 'putting a container\'s upper dir on a small tmpfs needs a mount, and mounting one needs root'))('a copy that fills the container\'s upper dir is ERR_COPY_NO_SPACE, and leaves no partial file', async () => {
    busyboxRootfs();
    const dir = await mkdtemp(join(tmpdir(), 'copy-in-upper-'));
    const small = join(dir, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'slipway-test-copy-in-full', small]);
    const keeper = await Keeper.start();
    try {
      await mkdir(join(small, 'upper'));
      await mkdir(join(small, 'work'));
      const spec = specFor(keeper, ['sleep', '1000'], { upperDir: join(small, 'upper'), workDir: join(small, 'work') });
      await keeper.createContainer(spec);
      await keeper.startContainer(spec.id);
      const src = join(dir, 'big');
      await writeFile(src, randomBytes(20 * MiB));
      const e = await keeper.putFiles(spec.id, hostEntries(src, '/big', { uid: 0, gid: 0 })).then(() => undefined, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_COPY_NO_SPACE'), String(e)).toBe(true);
      expect((e as SlipwayError).shortMessage).toMatch(/\/big: no space left on the container's file system \(\d+ MiB free of 8 MiB\)/);
      expect((e as SlipwayError).hint).toContain(keeper.stateDir);
      // Nothing half-written in the upper dir (the old copy left an 8 MiB /big there).
      expect(await readdir(join(small, 'upper'))).not.toContain('big');
      await keeper.removeContainer(spec.id);
    } finally {
      await keeper.close();
      execFileSync('umount', [small]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

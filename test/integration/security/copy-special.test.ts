/**
 * Special files in a copy out. Every entry of a GET costs the keeper a credit that Node hands back when it takes
 * the entry, but a FIFO, socket or device entry was dropped without its credit: a hostile container with 16 FIFOs
 * in a directory stalled copyFrom() of it for good (the keeper waiting for a credit, the reader for an entry). And
 * copyFrom() of a FIFO or device by name resolved with nothing copied. Such entries in a directory are left out (as
 * before) with their credit returned; asked for by name they are ERR_UNSUPPORTED.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: special files in a copy out', () => {
  it('copies a directory of 40 FIFOs (left out) and its file, to the host and as a tar stream; a FIFO or device by name is ERR_UNSUPPORTED', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'mkdir /d && for i in $(seq 1 40); do mkfifo /d/p$i; done && echo kept > /d/zz']);
    const dir = await mkdtemp(join(tmpdir(), 'copy-special-'));
    try {
      // The old keeper stalled here until the test's timeout.
      await c.copyFrom('/d', join(dir, 'd'));
      expect(await readdir(join(dir, 'd'))).toEqual(['zz']);
      expect(await readFile(join(dir, 'd', 'zz'), 'utf8')).toBe('kept\n');
      let bytes = 0;
      for await (const chunk of await c.copyFrom('/d')) bytes += (chunk as Buffer).length;
      expect(bytes).toBeGreaterThan(0);
      for (const p of ['/d/p1', '/dev/null']) {
        const e = await c.copyFrom(p, join(dir, 'x')).then(() => undefined, (x: unknown) => x);
        expect(SlipwayError.is(e, 'ERR_UNSUPPORTED'), String(e)).toBe(true);
        expect((e as Error).message).toMatch(/not a regular file, directory or symlink/);
      }
      expect(await readdir(dir)).toEqual(['d']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

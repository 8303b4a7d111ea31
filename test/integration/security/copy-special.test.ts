/**
 * Special files in a copy out. Every entry of a GET costs the keeper a credit that Node hands back when it takes
 * the entry, but a FIFO, socket or device entry was dropped without its credit: a hostile container with 16 FIFOs
 * in a directory stalled copyFrom() of it for good (the keeper waiting for a credit, the reader for an entry). And
 * copyFrom() of a FIFO or device by name resolved with nothing copied. Such entries in a directory are left out (as
 * before) with their credit returned; asked for by name they are ERR_UNSUPPORTED. On an engine the same: its archive
 * names a FIFO asked for by name (the old engine copy resolved with nothing copied), and a hard link in its archive
 * (a file's second name, content sent once) became nothing at all; natively each name is a file of its own.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { engineRuntime, fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

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
      // An engine's archive API reads the container's own file system, which has no /dev/null (its /dev is a mount): that is ERR_COPY_SOURCE_MISSING there.
      for (const p of engineRuntime() ? ['/d/p1'] : ['/d/p1', '/dev/null']) {
        const e = await c.copyFrom(p, join(dir, 'x')).then(() => undefined, (x: unknown) => x);
        expect(SlipwayError.is(e, 'ERR_UNSUPPORTED'), String(e)).toBe(true);
        expect((e as Error).message).toMatch(/not a regular file, directory or symlink/);
      }
      expect(await readdir(dir)).toEqual(['d']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('copies each name of a hard-linked file as a file of its own, small and streamed, to the host and as a tar stream', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'mkdir -p /h/sub && echo small > /h/a && ln /h/a /h/b && head -c 3000000 /dev/urandom > /h/big && ln /h/big /h/sub/big2 && chmod 0640 /h/a']);
    const sum = (await c.exec(['md5sum', '/h/big'])).stdout.split(' ')[0];
    const { createHash } = await import('node:crypto');
    const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
    const dir = await mkdtemp(join(tmpdir(), 'copy-links-'));
    try {
      await c.copyFrom('/h', join(dir, 'h'));
      // The old engine copy left out b and sub/big2.
      expect((await readdir(join(dir, 'h'))).sort()).toEqual(['a', 'b', 'big', 'sub']);
      expect(await readFile(join(dir, 'h', 'b'), 'utf8')).toBe('small\n');
      expect((await stat(join(dir, 'h', 'b'))).mode & 0o777).toBe(0o640);
      expect(md5(await readFile(join(dir, 'h', 'sub', 'big2')))).toBe(sum);
      // Separate files on the host, as natively: writing one leaves the other.
      expect((await stat(join(dir, 'h', 'b'))).ino).not.toBe((await stat(join(dir, 'h', 'a'))).ino);
      const { extract } = await import('tar-stream');
      const ex = extract();
      const files = new Map<string, string>();
      const done = new Promise<void>((resolve, reject) => {
        ex.on('entry', (h, stream, next) => {
          const parts: Buffer[] = [];
          stream.on('data', (d: unknown) => void parts.push(d as Buffer));
          stream.on('end', () => { if (h.type === 'file') files.set(h.name, md5(Buffer.concat(parts))); next(); });
        });
        ex.on('finish', resolve);
        ex.on('error', reject);
      });
      for await (const chunk of await c.copyFrom('/h')) ex.write(chunk);
      ex.end(undefined);
      await done;
      expect(files.get('h/b')).toBe(md5(Buffer.from('small\n')));
      expect(files.get('h/sub/big2')).toBe(sum);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

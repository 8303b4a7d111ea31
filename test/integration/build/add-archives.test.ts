/**
 * ADD auto-extracts a local tar compressed as Docker recognises (gzip, bzip2, xz, zstd); a file that only starts like
 * one is copied as it is. Root and rootless.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack as tarPack } from 'tar-stream';
import { expect, it } from 'vitest';
import { buildImage } from '../../../src/build/builder.js';
import { engineRuntime, fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { context, inspect } from './build-helpers.js';

async function tarOf(name: string, content: string): Promise<Buffer> {
  const p = tarPack();
  p.entry({ name: `${name}/`, type: 'directory', mode: 0o750, uid: 1000, gid: 1000 });
  p.entry({ name: `${name}/file`, mode: 0o640, uid: 1000, gid: 1000 }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('ADD of compressed tars', () => {
  it('bzip2, xz and zstd tars are extracted with their modes and owners; a fake .xz is copied', async () => {
    const ctx = await context({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nADD a.tar.bz2 b.tar.xz c.tar.zst /x/\nADD fake.tar.xz /fake.tar.xz\n`,
      'fake.tar.xz': Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from(' but not xz')]),
    });
    for (const [file, program, name] of [['a.tar.bz2', 'bzip2', 'bz'], ['b.tar.xz', 'xz', 'xz'], ['c.tar.zst', 'zstd', 'zst']] as const) {
      await writeFile(join(ctx, file), execFileSync(program, ['-c', '-q'], { input: await tarOf(name, `from ${program}\n`) }));
    }
    const r = await buildImage(ctx, {});
    const seen = await inspect(r.ref, ['/x/bz/file', '/x/xz', '/x/xz/file', '/x/zst/file', '/x/a.tar.bz2', '/fake.tar.xz', '/x/c.tar.zst']);
    expect(seen['/fake.tar.xz']).toMatch(/^644 0:0 regular file\n.*7zXZ.* but not xz$/s);
    expect(seen).toEqual({
      '/x/bz/file': '640 1000:1000 regular file\nfrom bzip2', '/x/xz': '750 1000:1000 directory', '/x/xz/file': '640 1000:1000 regular file\nfrom xz',
      // Docker 20.10's builders (BuildKit and the classic one) know gzip, bzip2 and xz only: a zstd tar is copied as a file there.
      ...(engineRuntime()
        ? { '/x/zst/file': 'absent', '/x/c.tar.zst': expect.stringMatching(/^644 0:0 regular file/) as unknown as string }
        : { '/x/zst/file': '640 1000:1000 regular file\nfrom zstd', '/x/c.tar.zst': 'absent' }),
      '/x/a.tar.bz2': 'absent', '/fake.tar.xz': seen['/fake.tar.xz'],
    });
  });
});

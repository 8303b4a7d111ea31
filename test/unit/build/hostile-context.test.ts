// Attacks on a build's context and ADD archives: a context that changes during the build must not make COPY read a
// file outside it (a symlink swapped in for a file or for a directory on its path) nor hang on a FIFO swapped in; a
// small gzip that expands without bound must fail the ADD, not take the process's memory.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contextTree, planCopy } from '../../../src/build/copy.js';
import { contextTar } from '../../../src/build/context-tar.js';
import { buildImage } from '../../../src/build/builder.js';
import { SlipwayError } from '../../../src/errors.js';

let base: string;
let ctx: string;
let secret: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'slipway-hostile-ctx-'));
  ctx = join(base, 'ctx');
  mkdirSync(join(ctx, 'sub'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  secret = join(base, 'outside', 'id_rsa');
  writeFileSync(secret, 'PRIVATE KEY');
  writeFileSync(join(ctx, 'app.txt'), 'app');
  writeFileSync(join(ctx, 'sub', 'id_rsa'), 'decoy');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (SlipwayError.is(e) ? e.code : String(e)));

describe('build context read during the build', () => {
  it('refuses a file swapped for a symlink to a host file after it was listed', async () => {
    const tree = await contextTree(ctx, []);
    expect((await tree.stat('app.txt'))?.type).toBe('file');
    rmSync(join(ctx, 'app.txt'));
    symlinkSync(secret, join(ctx, 'app.txt'));
    expect(await codeOf(tree.read('app.txt'))).toBe('ERR_BUILD_CONTEXT');
  });

  it('refuses a file below a directory swapped for a symlink that leads out', async () => {
    const tree = await contextTree(ctx, []);
    expect((await tree.stat('sub/id_rsa'))?.type).toBe('file');
    rmSync(join(ctx, 'sub'), { recursive: true });
    symlinkSync(join(base, 'outside'), join(ctx, 'sub'));
    expect(await codeOf(tree.read('sub/id_rsa'))).toBe('ERR_BUILD_CONTEXT');
  });

  it('refuses a FIFO swapped in instead of waiting for a writer', async () => {
    const tree = await contextTree(ctx, []);
    rmSync(join(ctx, 'app.txt'));
    execFileSync('mkfifo', [join(ctx, 'app.txt')]);
    expect(await codeOf(tree.read('app.txt'))).toBe('ERR_BUILD_CONTEXT');
  });

  it('still reads what is in the context', async () => {
    const tree = await contextTree(ctx, []);
    expect((await tree.read('sub/id_rsa')).toString()).toBe('decoy');
  });
});

describe('COPY of a huge context file', () => {
  it('streams a 2 GiB (sparse) file: planned and read in chunks, never held whole', async () => {
    const big = join(ctx, 'big.img');
    execFileSync('truncate', ['-s', '2G', big]);
    const tree = await contextTree(ctx, []);
    const mem = () => process.memoryUsage();
    const before = mem();
    let peak = 0;
    const sample = () => {
      const m = mem();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
    };
    const timer = setInterval(sample, 20);
    try {
      const { items, hash } = await planCopy(tree, { sources: ['big.img'], dest: '/x' }, async () => true);
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      const item = items.find((i) => i.rel === 'x/big.img')!;
      // Structural: the plan carries a reader, not the bytes (the old plan held the whole file; Node refuses to
      // read a file of 2 GiB into one Buffer at all, so the old build failed with ERR_FS_FILE_TOO_LARGE).
      expect(item.content).toBeUndefined();
      expect(item.file?.size).toBe(2 ** 31);
      let bytes = 0;
      for await (const c of item.file!.chunks()) {
        bytes += c.length;
        sample();
      }
      expect(bytes).toBe(2 ** 31);
    } finally {
      clearInterval(timer);
    }
    sample();
    // Loose: a few chunks of 1 MiB in flight, far below the file's 2048 MiB.
    expect(peak).toBeLessThan(256 << 20);
  }, 120_000);

  it('fails the copy when a planned file changes size before the layer is written', async () => {
    const tree = await contextTree(ctx, []);
    const { items } = await planCopy(tree, { sources: ['app.txt'], dest: '/x' }, async () => true);
    writeFileSync(join(ctx, 'app.txt'), 'app, now longer');
    const read = (async () => {
      for await (const c of items.find((i) => i.rel === 'x/app.txt')!.file!.chunks()) void c;
    })();
    expect(await codeOf(read)).toBe('ERR_BUILD_CONTEXT');
  });

  it('refuses a planned file swapped for a symlink to a host file before the layer is written', async () => {
    const tree = await contextTree(ctx, []);
    const { items } = await planCopy(tree, { sources: ['app.txt'], dest: '/x' }, async () => true);
    rmSync(join(ctx, 'app.txt'));
    symlinkSync(secret, join(ctx, 'app.txt'));
    const read = (async () => {
      for await (const c of items.find((i) => i.rel === 'x/app.txt')!.file!.chunks()) void c;
    })();
    expect(await codeOf(read)).toBe('ERR_BUILD_CONTEXT');
  });
});

describe('ADD of a local archive', () => {
  async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
    const p = pack();
    for (const [name, content] of Object.entries(files)) p.entry({ name, size: content.length }, content);
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  it('fails an archive that expands beyond the bound, instead of inflating it whole', async () => {
    // 8 MiB of zeros: a 8 KiB gzip. The bound is lowered here; the default is 1 GiB.
    writeFileSync(join(ctx, 'bomb.tar.gz'), gzipSync(await tarOf({ zeros: Buffer.alloc(8 << 20) })));
    const tree = await contextTree(ctx, []);
    const r = planCopy(tree, { sources: ['bomb.tar.gz'], dest: '/x/', extractArchives: true, maxArchiveBytes: 1 << 20 }, async () => true);
    const err = await r.then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_BUILD_CONTEXT')).toBe(true);
    expect((err as SlipwayError).shortMessage).toMatch(/expands to more than 1048576 bytes/);
  });

  it('extracts an archive within the bound', async () => {
    writeFileSync(join(ctx, 'ok.tar.gz'), gzipSync(await tarOf({ 'a.txt': Buffer.from('a') })));
    const tree = await contextTree(ctx, []);
    const { items } = await planCopy(tree, { sources: ['ok.tar.gz'], dest: '/x', extractArchives: true, maxArchiveBytes: 1 << 20 }, async () => true);
    expect(items.map((i) => i.rel)).toEqual(['x/a.txt']);
  });
});

// A .dockerignore or Dockerfile that is a FIFO hung the build in its read (a libuv thread blocked in open() until a
// writer came); an unreadable .dockerignore was taken as none, sending what it excludes into the build.
describe('the context\'s .dockerignore and Dockerfile', () => {
  it('a FIFO as .dockerignore or as the Dockerfile fails the build at once instead of hanging it', async () => {
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY app.txt /\n');
    execFileSync('mkfifo', [join(ctx, '.dockerignore')]);
    const e = await contextTar(ctx).then(() => undefined, (x: unknown) => x);
    expect(SlipwayError.is(e, 'ERR_BUILD_CONTEXT'), String(e)).toBe(true);
    expect((e as SlipwayError).message).toMatch(/\.dockerignore: not a regular file \(a FIFO\)/);
    expect(await codeOf(buildImage(ctx))).toBe('ERR_BUILD_CONTEXT');
    rmSync(join(ctx, '.dockerignore'));
    execFileSync('mkfifo', [join(ctx, 'Dockerfile.fifo')]);
    const d = await buildImage(ctx, { dockerfile: 'Dockerfile.fifo' }).then(() => undefined, (x: unknown) => x);
    expect(SlipwayError.is(d, 'ERR_BUILD_CONTEXT'), String(d)).toBe(true);
    expect((d as SlipwayError).message).toMatch(/Dockerfile\.fifo: not a regular file \(a FIFO\)/);
  });

  it('a .dockerignore that cannot be read fails the build rather than being taken as none', async () => {
    mkdirSync(join(ctx, '.dockerignore'));
    expect(await codeOf(contextTar(ctx))).toBe('ERR_BUILD_CONTEXT');
  });
});

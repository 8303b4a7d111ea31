// ADD's auto-extraction of compressed tars as Docker's (moby's DecompressStream): gzip, bzip2, xz, zstd by magic
// bytes; the external programs bounded like gzip; a missing program is a clear error naming the package.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { compressionOf, decompress } from '../../../src/build/decompress.js';
import { SlipwayError } from '../../../src/errors.js';

const compress = (program: string, data: Buffer): Buffer => execFileSync(program, ['-c', '-q'], { input: data, maxBuffer: 1 << 26 });
const programs = ['bzip2', 'xz', 'zstd'];
const haveAll = programs.every((p) => {
  try {
    execFileSync('sh', ['-c', `command -v ${p}`]);
    return true;
  } catch {
    return false;
  }
});

describe.skipIf(!haveAll)('decompress (bzip2, xz and zstd programs: apt-get install bzip2 xz-utils zstd)', () => {
  const data = Buffer.from('x'.repeat(100_000) + Math.random());
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it('recognises each format by its magic bytes and round-trips it; anything else is returned as is', async () => {
    const forms: [string, Buffer][] = [['gzip', gzipSync(data)], ...programs.map((p): [string, Buffer] => [p, compress(p, data)])];
    for (const [name, packed] of forms) {
      expect(compressionOf(packed)).toBe(name);
      expect((await decompress(packed, `a.${name}`, 1 << 20))?.equals(data)).toBe(true);
    }
    expect(compressionOf(data)).toBeUndefined();
    expect(await decompress(data, 'plain', 10)).toBe(data);
  });

  it('is bounded: a small archive that expands past the limit fails, the program is killed', async () => {
    const bomb = Buffer.alloc(64 << 20);
    for (const p of programs) {
      const packed = compress(p, bomb);
      expect(packed.length).toBeLessThan(1 << 20);
      const err = await decompress(packed, `bomb.${p}`, 1 << 20).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_BUILD_CONTEXT')).toBe(true);
      expect((err as SlipwayError).shortMessage).toMatch(new RegExp(`ADD bomb\\.${p}: a ${p} archive expands to more than 1048576 bytes`));
    }
  }, 120_000); // compresses 64 MiB with each program: minutes on a loaded 2-core machine

  it('data with a magic but not that format is not an archive (copied as a file, as Docker does)', async () => {
    for (const magic of [[0x42, 0x5a, 0x68], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x28, 0xb5, 0x2f, 0xfd]]) {
      expect(await decompress(Buffer.concat([Buffer.from(magic), Buffer.from('not really compressed')]), 'x', 1 << 20)).toBeUndefined();
    }
  });

  it('a missing program is ERR_BUILD naming it and the Debian package', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'slipway-nopath-'));
    const packed = compress('xz', data);
    try {
      process.env.PATH = empty;
      const err = await decompress(packed, 'app.tar.xz', 1 << 20).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_BUILD')).toBe(true);
      expect((err as SlipwayError).shortMessage).toMatch(/ADD app\.tar\.xz: the archive is xz-compressed and extracting it needs the `xz` program/);
      expect((err as SlipwayError).hint).toMatch(/apt-get install xz-utils/);
    } finally {
      process.env.PATH = savedPath;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

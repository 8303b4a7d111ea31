import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { parseOwnershipList, sniffCompression, unpackLayer, type OwnershipRecord } from '../../../src/image/unpack.js';
import { lgetxattr } from '../../../src/image/syscalls.js';
import { removeTree } from '../../../src/image/store.js';
import { makeLayer, makeTar, sha256, type TarEntry } from './helpers/fake-registry.js';

const tmps: string[] = [];
afterEach(async () => {
  // removeTree copes with the read-only directories layers contain (rm alone fails when not root).
  await Promise.all(tmps.splice(0).map((d) => removeTree(d)));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'slipway-unpack-'));
  tmps.push(d);
  return d;
}
async function* chunks(b: Buffer, size = 7000): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

interface Run { dir: string; records: OwnershipRecord[]; result: Awaited<ReturnType<typeof unpackLayer>> }
async function unpack(entries: TarEntry[], compression: 'gzip' | 'none' | 'zstd' = 'gzip'): Promise<Run> {
  const base = await tmp();
  const dir = path.join(base, 'layer');
  await mkdir(dir);
  const layer = await makeLayer(entries, compression);
  const records: OwnershipRecord[] = [];
  const result = await unpackLayer({
    source: chunks(layer.blob), dir, digest: layer.digest, diffId: layer.diffId, size: layer.blob.length,
    ownershipListPath: path.join(base, 'owners'),
    applyOwnership: async (d, list) => {
      expect(d).toBe(dir);
      records.push(...parseOwnershipList(await readFile(list)));
    },
  });
  return { dir, records, result };
}

describe('unpackLayer', () => {
  it('sniffs compression by magic bytes', () => {
    expect(sniffCompression(Buffer.from([0x1f, 0x8b, 0x08, 0]))).toBe('gzip');
    expect(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(Buffer.from('usr/'))).toBe('none');
  });

  it.each(['gzip', 'none', 'zstd'] as const)('unpacks files, dirs, links, modes and mtimes (%s)', async (c) => {
    const mtime = new Date('2020-01-02T03:04:05Z');
    const { dir, result, records } = await unpack([
      { name: 'etc/', type: 'directory', mode: 0o755, mtime },
      { name: 'etc/passwd', content: 'root:x:0:0\n', mode: 0o644, mtime },
      { name: 'bin/', type: 'directory', mode: 0o555, mtime },
      { name: 'bin/tool', content: '#!/bin/sh\n', mode: 0o4755 },
      { name: 'bin/alias', type: 'link', linkname: 'bin/tool' },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mtime },
      { name: 'var/lib/pg/', type: 'directory', mode: 0o700, uid: 999, gid: 999 },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'big', content: Buffer.alloc(300_000, 0x61) },
      { name: './dotted/file', content: 'x' },
      { name: 'fifo', type: 'fifo', mode: 0o600 },
    ], c);
    expect(result.compression).toBe(c);
    expect(await readFile(path.join(dir, 'etc/passwd'), 'utf8')).toBe('root:x:0:0\n');
    expect((await stat(path.join(dir, 'etc/passwd'))).mtime.toISOString()).toBe(mtime.toISOString());
    expect((await stat(path.join(dir, 'etc'))).mtime.toISOString()).toBe(mtime.toISOString());
    expect((await stat(path.join(dir, 'bin'))).mode & 0o7777).toBe(0o555);
    expect((await stat(path.join(dir, 'bin/alias'))).ino).toBe((await stat(path.join(dir, 'bin/tool'))).ino);
    expect(await readlink(path.join(dir, 'bin/sh'))).toBe('/bin/busybox');
    expect((await lstat(path.join(dir, 'bin/sh'))).mtime.toISOString()).toBe(mtime.toISOString());
    expect((await stat(path.join(dir, 'big'))).size).toBe(300_000);
    expect(await readFile(path.join(dir, 'dotted/file'), 'utf8')).toBe('x');
    expect((await lstat(path.join(dir, 'fifo'))).isFIFO()).toBe(true);
    expect((await stat(path.join(dir, 'var/lib/pg'))).mode & 0o777).toBe(0o700);
    expect(records).toEqual(expect.arrayContaining([
      { path: 'bin/tool', uid: 0, gid: 0, mode: 0o4755 },
      { path: 'var/lib/pg', uid: 999, gid: 999, mode: 0o700 },
      { path: 'tmp', uid: 0, gid: 0, mode: 0o1777 },
    ]));
    expect(records).toHaveLength(3);
  });

  it('writes whiteouts as 0:0 character devices and opaque dirs as user.overlay.opaque', async () => {
    const { dir } = await unpack([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd', content: '' },
      { name: 'var/cache/', type: 'directory' },
      { name: 'var/cache/.wh..wh..opq', content: '' },
      { name: 'var/cache/new', content: 'kept' },
      { name: '.wh..wh.plnk', type: 'directory' },
    ]);
    const wh = await lstat(path.join(dir, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(lgetxattr(path.join(dir, 'var/cache'), 'user.overlay.opaque')?.toString()).toBe('y');
    expect(await readFile(path.join(dir, 'var/cache/new'), 'utf8')).toBe('kept');
    const names = (await readdir(dir, { recursive: true })).map(String);
    expect(names.filter((n) => n.includes('.wh.'))).toEqual([]);
  });

  it('lets later entries replace earlier ones', async () => {
    const { dir } = await unpack([
      { name: 'a', content: 'one' },
      { name: 'a', content: 'two' },
      { name: 'd/x', content: 'x' },
      { name: 'd', type: 'symlink', linkname: 'elsewhere' },
      { name: 'l', type: 'symlink', linkname: 'a' },
      { name: 'l', content: 'file now' },
    ]);
    expect(await readFile(path.join(dir, 'a'), 'utf8')).toBe('two');
    expect(await readlink(path.join(dir, 'd'))).toBe('elsewhere');
    expect(await readFile(path.join(dir, 'l'), 'utf8')).toBe('file now');
    expect(await readFile(path.join(dir, 'a'), 'utf8')).toBe('two');
  });

  it('sets xattrs from PAX headers and refuses forged overlay xattrs', async () => {
    const { dir } = await unpack([
      { name: 'f', content: 'x', pax: { 'SCHILY.xattr.user.test': 'hello', 'SCHILY.xattr.user.overlay.opaque': 'y' } },
    ]);
    expect(lgetxattr(path.join(dir, 'f'), 'user.test')?.toString()).toBe('hello');
    expect(lgetxattr(path.join(dir, 'f'), 'user.overlay.opaque')).toBeUndefined();
  });

  it('creates device nodes when permitted (root) and records them', async () => {
    const { dir } = await unpack([{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]);
    if (process.getuid?.() === 0) {
      const s = await lstat(path.join(dir, 'dev/null'));
      expect(s.isCharacterDevice()).toBe(true);
      expect(s.rdev).toBe(259);
    }
  });

  it('discards the layer on a digest mismatch', async () => {
    const base = await tmp();
    const dir = path.join(base, 'layer');
    await mkdir(dir);
    const layer = await makeLayer([{ name: 'f', content: 'x' }]);
    const e = await unpackLayer({ source: chunks(layer.blob), dir, digest: sha256('other'), ownershipListPath: path.join(base, 'o') }).catch((x: unknown) => x);
    expect(SlipwayError.is(e, 'ERR_DIGEST_MISMATCH')).toBe(true);
    await expect(stat(dir)).rejects.toThrow();
  });

  it('discards the layer on a diff id mismatch', async () => {
    const base = await tmp();
    const dir = path.join(base, 'layer');
    await mkdir(dir);
    const layer = await makeLayer([{ name: 'f', content: 'x' }]);
    const e = await unpackLayer({ source: chunks(layer.blob), dir, digest: layer.digest, diffId: sha256('nope'), ownershipListPath: path.join(base, 'o') }).catch((x: unknown) => x);
    expect(SlipwayError.is(e, 'ERR_DIGEST_MISMATCH')).toBe(true);
    expect((e as Error).message).toMatch(/diff id/);
    await expect(stat(dir)).rejects.toThrow();
  });

  it.skipIf('createZstdDecompress' in zlib)('names the fix when a zstd layer meets a machine without zstd', async () => {
    const base = await tmp();
    const dir = path.join(base, 'layer');
    await mkdir(dir);
    const layer = await makeLayer([{ name: 'f', content: 'x' }], 'zstd');
    const oldPath = process.env.PATH;
    process.env.PATH = base;
    try {
      const e = await unpackLayer({ source: chunks(layer.blob), dir, ownershipListPath: path.join(base, 'o') }).catch((x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_UNPACK')).toBe(true);
      expect((e as SlipwayError).hint).toMatch(/install the zstd command/);
    } finally {
      process.env.PATH = oldPath;
    }
    await expect(stat(dir)).rejects.toThrow();
  });

  it('reports a corrupt gzip stream and a truncated tar', async () => {
    const base = await tmp();
    const tar = await makeTar([{ name: 'f', content: Buffer.alloc(100_000, 1) }]);
    const gz = zlib.gzipSync(tar);
    for (const bad of [gz.subarray(0, gz.length / 2), Buffer.concat([gz.subarray(0, 20), Buffer.alloc(200, 0xff)]), tar.subarray(0, 5000)]) {
      const dir = path.join(base, `l${bad.length}`);
      await mkdir(dir);
      const e = await unpackLayer({ source: chunks(bad), dir, ownershipListPath: path.join(base, 'o') }).catch((x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_UNPACK'), String(e) + (e as Error)?.stack).toBe(true);
      await expect(stat(dir)).rejects.toThrow();
    }
  });
});

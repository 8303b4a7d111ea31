/**
 * The layer unpacker's own tar parser must read exactly what tar-stream's extract() read before it: the same entries,
 * headers and data for ustar, PAX (local and global) and GNU long names, whatever the chunking, and the same refusals
 * (bad checksum, unknown format, cut short) with the same messages.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { LayerTarParser, TarFormatError, type LayerTarHeader } from '../../../src/image/layer-tar.js';
import { makeTar } from './helpers/fake-registry.js';

interface Seen { h: Record<string, unknown>; data: string }

const pick = (h: LayerTarHeader | Record<string, unknown>): Record<string, unknown> => {
  const x = h as Record<string, unknown>;
  return {
    name: x.name, mode: x.mode, uid: x.uid, gid: x.gid, size: x.size, mtime: (x.mtime as Date).getTime(), type: x.type,
    linkname: x.linkname, devmajor: x.devmajor, devminor: x.devminor, pax: x.pax,
  };
};

async function viaTarStream(tar: Buffer): Promise<{ seen: Seen[]; error?: string }> {
  const seen: Seen[] = [];
  const ex = extract();
  const feed = pipeline(Readable.from([tar]), ex);
  feed.catch(() => {});
  try {
    for await (const entry of ex) {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c as Buffer);
      seen.push({ h: pick(entry.header as unknown as Record<string, unknown>), data: Buffer.concat(parts).toString('latin1') });
    }
    await feed;
  } catch (e) {
    return { seen, error: (e as Error).message };
  }
  return { seen };
}

function viaParser(tar: Buffer, chunk: number): { seen: Seen[]; error?: string } {
  const seen: Seen[] = [];
  const p = new LayerTarParser((h) => {
    const parts: Buffer[] = [];
    return {
      data: (c) => parts.push(Buffer.from(c)),
      end: () => seen.push({ h: pick(h), data: Buffer.concat(parts).toString('latin1') }),
    };
  });
  try {
    for (let off = 0; off < tar.length; off += chunk) p.push(tar.subarray(off, off + chunk));
    p.end();
  } catch (e) {
    expect(e).toBeInstanceOf(TarFormatError);
    return { seen, error: (e as Error).message };
  }
  return { seen };
}

async function same(tar: Buffer): Promise<Seen[]> {
  const want = await viaTarStream(tar);
  for (const chunk of [1, 7, 511, 512, 513, 4096, tar.length || 1]) {
    expect(viaParser(tar, chunk), `chunks of ${chunk}`).toEqual(want);
  }
  return want.seen;
}

/** A tar written by GNU tar itself (GNU long names `L`/`K`, or PAX records), as distributions' layers are. */
function gnuTar(format: 'gnu' | 'posix'): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-layer-tar-'));
  try {
    const long = 'd'.repeat(120);
    mkdirSync(path.join(dir, 'src', long), { recursive: true });
    writeFileSync(path.join(dir, 'src', long, `${'f'.repeat(110)}.txt`), 'x'.repeat(1000));
    writeFileSync(path.join(dir, 'src', 'ü-name'), Buffer.alloc(5000, 7));
    symlinkSync(`../${'t'.repeat(150)}`, path.join(dir, 'src', 'longlink'));
    return execFileSync('tar', [`--format=${format}`, '--sort=name', '--mtime=@1700000000', '-C', path.join(dir, 'src'), '-cf', '-', '.']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('LayerTarParser reads what tar-stream read', () => {
  it('ustar entries of every kind, with data, PAX records and a prefix-split long name', async () => {
    const tar = await makeTar([
      { name: 'etc', type: 'directory', mode: 0o755 },
      { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644, uid: 1, gid: 2, mtime: new Date(1_600_000_000_000) },
      { name: 'etc/big', content: Buffer.alloc(70_000, 3) },
      { name: 'etc/empty', content: '' },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'bin/sh2', type: 'link', linkname: 'etc/passwd' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'run/fifo', type: 'fifo' },
      { name: `${'p'.repeat(90)}/${'q'.repeat(90)}`, content: 'split' },
      { name: 'x', content: 'with xattr', pax: { 'SCHILY.xattr.user.k': 'v', mtime: '12.5' } },
      { name: 'ünïcode/名前', content: 'utf8 name (PAX path)' },
    ]);
    const seen = await same(tar);
    expect(seen.map((s) => s.h.type)).toEqual(['directory', 'file', 'file', 'file', 'symlink', 'link', 'character-device', 'block-device', 'fifo', 'file', 'file', 'file']);
    expect(seen[2]!.data).toBe(Buffer.alloc(70_000, 3).toString('latin1'));
  });

  it("GNU tar's own archives, GNU and PAX formats, long names and long link targets", async () => {
    for (const format of ['gnu', 'posix'] as const) {
      const seen = await same(gnuTar(format));
      expect(seen.some((s) => String(s.h.name).endsWith(`${'f'.repeat(110)}.txt`))).toBe(true);
      expect(seen.some((s) => s.h.linkname === `../${'t'.repeat(150)}`)).toBe(true);
    }
  });

  it('a global PAX header, zero blocks in the middle, and bytes after the end blocks', async () => {
    const a = await makeTar([{ name: 'a', content: 'A' }]);
    const b = await makeTar([{ name: 'b', content: 'B', pax: { comment: 'local' } }]);
    const g = Buffer.concat([gnuGlobal('comment=global\n'), b]);
    await same(Buffer.concat([a, g, Buffer.alloc(2048)]));
  });

  it('refuses what tar-stream refused, with the same message', async () => {
    const tar = await makeTar([{ name: 'a', content: 'hello' }, { name: 'b', content: 'x'.repeat(3000) }]);
    const badSum = Buffer.from(tar);
    badSum[1024 + 88] = badSum[1024 + 88]! ^ 1; // in the second header's name
    const unknown = Buffer.from(tar);
    unknown.write('nostar', 257, 'latin1');
    fixSum(unknown, 0);
    const cases = [badSum, unknown, tar.subarray(0, 1024 + 1000), tar.subarray(0, 700), tar.subarray(0, 1024 + 3000)];
    for (const c of cases) {
      const want = await viaTarStream(c);
      expect(want.error, 'tar-stream refuses it').toBeDefined();
      expect(viaParser(c, 512)).toEqual(want);
      expect(viaParser(c, 100)).toEqual(want);
    }
  });
});

function fixSum(buf: Buffer, at: number): void {
  buf.fill(32, at + 148, at + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[at + i]!;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

/** A PAX global header (`g`) block with its record. */
function gnuGlobal(record: string): Buffer {
  const body = Buffer.from(`${record.length + String(record.length + 3).length + 1} ${record}`);
  const h = Buffer.alloc(512);
  h.write('pax_global_header', 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('g', 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  fixSum(h, 0);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}

import { describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { readTar, TarReadError, type TarReadEntry } from '../../../src/internal/tar-read.js';

/** A ustar header block as Go's archive/tar writes one (checksum filled in). */
function header(name: Buffer | string, flag: string, size: number, extra: { linkname?: string; magic?: string } = {}): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from(name).copy(h, 0, 0, 100);
  h.write('0000644\0', 100, 'latin1');
  h.write('0001750\0', 108, 'latin1');
  h.write('0001750\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write(`${(1_700_000_000).toString(8)}\0`, 136, 'latin1');
  h.write(flag, 156, 'latin1');
  if (extra.linkname) h.write(extra.linkname, 157, 'latin1');
  h.write(extra.magic ?? 'ustar\x0000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function data(body: Buffer): Buffer {
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** A PAX record `<len> key=value\n` with the value's raw bytes. */
function record(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function all(buf: Buffer, chunk = 7): Promise<(Omit<TarReadEntry, 'content'> & { body: Buffer })[]> {
  const out = [];
  for await (const e of readTar(chunked(buf, chunk))) {
    const parts: Buffer[] = [];
    for await (const c of e.content) parts.push(c);
    const { content: _, ...rest } = e;
    out.push({ ...rest, body: Buffer.concat(parts) });
  }
  return out;
}

describe('readTar', () => {
  it('keeps PAX path and linkpath bytes that are not UTF-8 (as Go writes them), where tar-stream made two names one', async () => {
    const ff = Buffer.from([0x71, 0x30, 0xff]);
    const fe = Buffer.from([0x71, 0x30, 0xfe]);
    const paxOf = (...recs: Buffer[]) => { const b = Buffer.concat(recs); return Buffer.concat([header('PaxHeaders/x', 'x', b.length), data(b)]); };
    const archive = Buffer.concat([
      paxOf(record('path', Buffer.concat([Buffer.from('t/'), ff])), record('linkpath', Buffer.from([0x2f, 0xe9]))),
      header('t/q0?', '2', 0),
      paxOf(record('path', Buffer.concat([Buffer.from('t/'), fe]))),
      header('t/q0?', '5', 0),
      Buffer.alloc(1024),
    ]);
    const entries = await all(archive);
    expect(entries.map((e) => [e.type, e.name.toString('hex'), e.linkname.toString('hex')])).toEqual([
      ['symlink', Buffer.concat([Buffer.from('t/'), ff]).toString('hex'), '2fe9'],
      ['directory', Buffer.concat([Buffer.from('t/'), fe]).toString('hex'), ''],
    ]);
    // The old reader: both names decode to "t/q0\ufffd".
    const names: string[] = [];
    const x = tar.extract();
    x.on('entry', (h, s, next) => { names.push(h.name); s.resume(); next(); });
    x.end(archive);
    await new Promise<void>((r) => x.on('finish', () => r()));
    expect(names[0]).toBe(names[1]);
  });

  it('reads what tar-stream packs: files of every size, links, directories, long names; contents intact across chunk edges', async () => {
    const pack = tar.pack();
    const big = Buffer.alloc(3 * 512 + 17, 0x61);
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}`;
    pack.entry({ name: 'top', type: 'directory', mode: 0o755 });
    pack.entry({ name: 'top/empty', size: 0 }, Buffer.alloc(0));
    pack.entry({ name: 'top/big', size: big.length, uid: 7, gid: 8, mode: 0o600 }, big);
    pack.entry({ name: 'top/link', type: 'symlink', linkname: 'big' });
    pack.entry({ name: 'top/hard', type: 'link', linkname: 'top/big' });
    pack.entry({ name: long, size: 2 }, Buffer.from('hi'));
    pack.entry({ name: 'top/naïve', size: 1 }, Buffer.from('x'));
    pack.finalize();
    const parts: Buffer[] = [];
    for await (const c of pack) parts.push(c as Buffer);
    for (const chunk of [1, 511, 4096]) {
      const got = (await all(Buffer.concat(parts), chunk)).map((e) => ({ t: e.type, n: e.name.toString('utf8'), l: e.linkname.toString('utf8'), s: e.size, b: e.body.length, m: e.mode, u: e.uid, g: e.gid }));
      expect(got).toEqual([
        { t: 'directory', n: 'top', l: '', s: 0, b: 0, m: 0o755, u: 0, g: 0 },
        { t: 'file', n: 'top/empty', l: '', s: 0, b: 0, m: 0o644, u: 0, g: 0 },
        { t: 'file', n: 'top/big', l: '', s: big.length, b: big.length, m: 0o600, u: 7, g: 8 },
        { t: 'symlink', n: 'top/link', l: 'big', s: 0, b: 0, m: 0o644, u: 0, g: 0 },
        { t: 'link', n: 'top/hard', l: 'top/big', s: 0, b: 0, m: 0o644, u: 0, g: 0 },
        { t: 'file', n: long, l: '', s: 2, b: 2, m: 0o644, u: 0, g: 0 },
        { t: 'file', n: 'top/naïve', l: '', s: 1, b: 1, m: 0o644, u: 0, g: 0 },
      ]);
    }
  });

  it('skips what a reader leaves unread, and takes GNU long names and base-256 sizes', async () => {
    const name = Buffer.concat([Buffer.from('g/'.repeat(60)), Buffer.from([0xff])]);
    const sizeHeader = header('b256', '0', 0);
    sizeHeader.fill(0, 124, 136);
    sizeHeader[124] = 0x80;
    sizeHeader[135] = 3;
    sizeHeader.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of sizeHeader) sum += b;
    sizeHeader.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const archive = Buffer.concat([
      header('skipped', '0', 700), data(Buffer.alloc(700, 1)),
      header('././@LongLink', 'L', name.length + 1, { magic: 'ustar  \0' }), data(Buffer.concat([name, Buffer.alloc(1)])),
      header('trunc', '0', 1, { magic: 'ustar  \0' }), data(Buffer.from('z')),
      sizeHeader, data(Buffer.from('abc')),
      Buffer.alloc(1024),
    ]);
    const seen: string[] = [];
    for await (const e of readTar(chunked(archive, 100))) seen.push(`${e.name.toString('latin1')}:${e.size}`);
    expect(seen).toEqual(['skipped:700', `${name.toString('latin1')}:1`, 'b256:3']);
  });

  it('a bad checksum or an archive cut short is a TarReadError', async () => {
    const bad = header('x', '0', 1);
    bad[0] = 0x79;
    await expect(all(Buffer.concat([bad, data(Buffer.from('a'))]))).rejects.toBeInstanceOf(TarReadError);
    await expect(all(Buffer.concat([header('x', '0', 600), Buffer.alloc(100)]))).rejects.toBeInstanceOf(TarReadError);
    expect(await all(Buffer.alloc(0))).toEqual([]);
  });
});

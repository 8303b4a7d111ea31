import { setImmediate as tick } from 'node:timers/promises';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { tarOfEntries } from '../../../src/runtime/copy-archive.js';
import type { CopiedEntry } from '../../../src/runtime/runtime-container.js';

const base = { uid: 0, gid: 0, mtime: new Date(0) };
const entry = (rel: Buffer | string, type: CopiedEntry['type'], more: Partial<CopiedEntry> = {}): CopiedEntry => {
  const relPath = Buffer.isBuffer(rel) ? rel : Buffer.from(rel);
  return { ...base, path: `/${relPath.toString()}`, relPath, type, mode: type === 'directory' ? 0o755 : 0o644, ...more };
};

async function untar(stream: NodeJS.ReadableStream): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const x = extract();
  x.on('entry', (h, s, next) => {
    const parts: Buffer[] = [];
    s.on('data', (d: unknown) => parts.push(d as Buffer));
    s.on('end', () => { out[h.name] = h.type === 'symlink' ? `-> ${h.linkname}` : h.type === 'file' ? Buffer.concat(parts).toString() : h.type ?? ''; next(); });
  });
  await new Promise<void>((resolve, reject) => {
    x.on('finish', resolve);
    x.on('error', reject);
    stream.on('error', reject);
    stream.pipe(x);
  });
  return out;
}

describe('tarOfEntries', () => {
  it('writes directories, files and symlinks under the copied name', async () => {
    const s = tarOfEntries((async function* () {
      yield entry('d', 'directory');
      yield entry('d/f', 'file', { content: Buffer.from('hi') });
      yield entry('d/l', 'symlink', { linkBytes: Buffer.from('f'), linkTarget: 'f' });
    })(), '/d');
    expect(await untar(s)).toEqual({ d: 'directory', 'd/f': 'hi', 'd/l': '-> f' });
  });

  it('reads nothing until the stream is read, and an error reaches only its reader', async () => {
    let pulled = 0;
    const failing = (async function* () {
      pulled++;
      yield entry('d', 'directory');
      throw new Error('container removed');
    })();
    const s = tarOfEntries(failing, '/d');
    for (let i = 0; i < 10; i++) await tick();
    expect(pulled).toBe(0);
    await expect(untar(s)).rejects.toThrow('container removed');
  });

  it('refuses names that are not UTF-8 (tar-stream would write them lossily)', async () => {
    const s = tarOfEntries((async function* () {
      yield entry('d', 'directory');
      yield entry(Buffer.from([0x64, 0x2f, 0x71, 0xff]), 'file', { content: Buffer.from('x') });
    })(), '/d');
    const err = await untar(s).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_COPY_UNSAFE_PATH')).toBe(true);
  });
});

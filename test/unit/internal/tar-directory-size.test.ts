/**
 * A tar directory entry whose header gives it a size (a hostile archive; found by layer-tar-fuzz.test.ts). tar-stream
 * gives a directory no data and then never ends the entry's stream, so every reader that drained it waited forever
 * without a byte of CPU: `copyArchiveToContainer` (entriesOfArchive), a docker-archive pull, the engine's archive
 * load (archiveWithoutNames) and a Dockerfile `ADD x.tar`. Each must now read past it (the bytes after such a header
 * are headers, as tar-stream reads them) and finish. A hang fails these tests by their timeout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { entriesOfArchive } from '../../../src/runtime/copy-archive.js';
import { archiveWithoutNames } from '../../../src/runtime/engine/archive-names.js';
import { pull } from '../../../src/image/pull.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-tar-dir-size-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function block(name: string, type: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'latin1');
  h.write(type === '5' ? '0000755\0' : '0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('14533242600\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}
const file = (name: string, body: string): Buffer => {
  const data = Buffer.from(body);
  return Buffer.concat([block(name, '0', data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
};
/** `d/` with a size of 1 MiB, then a file: tar-stream reads the file's header right after the directory's. */
const hostile = (...after: Buffer[]): Buffer => Buffer.concat([block('d/', '5', 1 << 20), ...after, Buffer.alloc(1024)]);

describe('a directory entry with a size', () => {
  it('copyArchiveToContainer reads past it', async () => {
    const entries = await entriesOfArchive(hostile(file('d/f', 'after the directory')), '/opt');
    expect(entries.map((e) => [e.path, e.type])).toEqual([['/opt/d', 'directory'], ['/opt/d/f', 'file']]);
  }, 20_000);

  it("the engine's archive load reads past it", async () => {
    const f = join(dir, 'engine.tar');
    writeFileSync(f, hostile(file('manifest.json', '[]')));
    const out: Buffer[] = [];
    for await (const c of archiveWithoutNames(f)) out.push(c as Buffer);
    expect(Buffer.concat(out).includes('manifest.json')).toBe(true);
  }, 20_000);

  it('a docker-archive pull reads past it (and then refuses the archive for what it lacks, typed)', async () => {
    const f = join(dir, 'pull.tar');
    writeFileSync(f, hostile(file('other', 'x')));
    const e = await pull(`docker-archive:${f}`, { storeDir: join(dir, 'store') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SlipwayError);
    expect((e as SlipwayError).message).toMatch(/manifest\.json/);
  }, 20_000);
});

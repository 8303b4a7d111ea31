import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { extractToHost, type ExtractEntry } from '../../../src/runtime/host-extract.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const dir = (rel: string, mode = 0o755): ExtractEntry => ({ relPath: b(rel), type: 'directory', mode });
const file = (rel: string, content: string, mode = 0o644): ExtractEntry => ({ relPath: b(rel), type: 'file', mode, content: Buffer.from(content) });
const link = (rel: string, target: string): ExtractEntry => ({ relPath: b(rel), type: 'symlink', mode: 0o777, linkBytes: b(target) });

/** A host temp dir with `out/` (the copy target's parent) and `outside/` (must stay empty). */
async function sandbox(): Promise<{ out: string; outside: string }> {
  const root = await mkdtemp(join(tmpdir(), 'slipway-extract-'));
  await mkdir(join(root, 'out'));
  await mkdir(join(root, 'outside'));
  return { out: join(root, 'out'), outside: join(root, 'outside') };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(() => undefined, (e: unknown) => (SlipwayError.is(e) ? e.code : String(e)));
}

describe('extractToHost', () => {
  it('writes a tree with names as bytes, `..data`-style names, symlinks as links, and safe modes', async () => {
    const { out } = await sandbox();
    await extractToHost([
      dir('data'), dir('data/..data'), file('data/..data/key', 'k', 0o4777), file('data/q\xff', 'latin1'), link('data/cur', '..data'), dir('data/sub', 0o555), file('data/sub/f', 'f'),
    ], join(out, 'copy'), { source: '/data' });
    const names = (await readdir(join(out, 'copy'), { encoding: 'buffer' })).map((n) => n.toString('latin1')).sort();
    expect(names).toEqual(['..data', 'cur', 'q\xff', 'sub']);
    expect(await readFile(join(out, 'copy', '..data', 'key'), 'utf8')).toBe('k');
    expect(await readFile(Buffer.concat([Buffer.from(join(out, 'copy') + '/'), b('q\xff')]), 'utf8')).toBe('latin1');
    expect(await readlink(join(out, 'copy', 'cur'))).toBe('..data');
    expect((await lstat(join(out, 'copy', '..data', 'key'))).mode & 0o7777).toBe(0o755);
    expect((await lstat(join(out, 'copy', 'sub'))).mode & 0o7777).toBe(0o555);
    expect(await readFile(join(out, 'copy', 'sub', 'f'), 'utf8')).toBe('f');
  });

  it('never writes through a symlink it made: a repeated name is a collision', async () => {
    const { out, outside } = await sandbox();
    // What `q\xff` (symlink) and `q\xfe/` (dir) became once decoded as UTF-8: one host name twice.
    const err = await code(extractToHost([dir('d'), link('d/q\ufffd', outside), dir('d/q\ufffd'), file('d/q\ufffd/pwned', 'x')], join(out, 'd'), { source: '/d' }));
    expect(err).toBe('ERR_COPY_UNSAFE_PATH');
    const err2 = await code(extractToHost([dir('e'), link('e/q', outside), file('e/q', 'x')], join(out, 'e'), { source: '/e' }));
    expect(err2).toBe('ERR_COPY_UNSAFE_PATH');
    expect(await readdir(outside)).toEqual([]);
  });

  it('replaces symlinks left in the target by an earlier copy instead of following them', async () => {
    const { out, outside } = await sandbox();
    await mkdir(join(out, 'd'));
    await symlink(outside, join(out, 'd', 'q'));
    await symlink(join(outside, 'file'), join(out, 'd', 'f'));
    await symlink(outside, join(out, 'root-link'));
    await extractToHost([dir('d'), dir('d/q'), file('d/q/pwned', 'x'), file('d/f', 'new')], join(out, 'd'), { source: '/d' });
    await extractToHost([file('f', 'root')], join(out, 'root-link'), { source: '/f' });
    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(join(out, 'd', 'q'))).isDirectory()).toBe(true);
    expect(await readFile(join(out, 'd', 'q', 'pwned'), 'utf8')).toBe('x');
    expect(await readFile(join(out, 'd', 'f'), 'utf8')).toBe('new');
    expect(await readFile(join(out, 'root-link'), 'utf8')).toBe('root');
  });

  it('merges into existing directories and refuses to replace a directory with a file', async () => {
    const { out } = await sandbox();
    await mkdir(join(out, 'd', 'keep'), { recursive: true });
    await writeFile(join(out, 'd', 'keep', 'old'), 'old');
    await extractToHost([dir('d'), dir('d/keep'), file('d/keep/new', 'new')], join(out, 'd'), { source: '/d' });
    expect((await readdir(join(out, 'd', 'keep'))).sort()).toEqual(['new', 'old']);
    expect(await code(extractToHost([dir('d'), file('d/keep', 'x')], join(out, 'd'), { source: '/d' }))).toBe('ERR_COPY_HOST');
  });

  it('refuses names that are not one host name, and entries outside their directory', async () => {
    const { out, outside } = await sandbox();
    for (const bad of ['d/..', 'd/.', 'd//x', 'd/a\0b']) {
      expect(await code(extractToHost([dir('d'), file(bad, 'x')], join(out, 'd'), { source: '/d' }))).toBe('ERR_COPY_UNSAFE_PATH');
    }
    expect(await code(extractToHost([dir('d'), file('d/nodir/x', 'x')], join(out, 'd2'), { source: '/d' }))).toBe('ERR_COPY_UNSAFE_PATH');
    expect(await code(extractToHost([file('d', 'x'), file('d/x', 'x')], join(out, 'd3'), { source: '/d' }))).toBe('ERR_COPY_UNSAFE_PATH');
    expect(await readdir(outside)).toEqual([]);
  });
});

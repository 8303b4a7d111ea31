/**
 * Crafted malicious layers: every one must be rejected (or neutralised) without touching anything outside
 * the layer directory. A sentinel directory beside the layer is snapshotted before and compared after.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { unpackLayer } from '../../../src/image/unpack.js';
import { lgetxattr } from '../../../src/image/syscalls.js';
import { makeLayer, type TarEntry } from './helpers/fake-registry.js';

let base = '';
let sentinel = '';
let layerDir = '';

async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d)).sort()) {
      const p = path.join(d, e);
      const s = await lstat(p);
      const x = lgetxattr(p, 'user.overlay.opaque');
      out.push(`${path.relative(dir, p)} ${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.size} ${s.mtimeMs} ${s.ino} ${s.nlink} ${x ? 'opaque' : ''} ${s.isFile() ? await readFile(p, 'utf8') : ''}`);
      if (s.isDirectory()) await walk(p);
    }
  };
  const s = await lstat(dir);
  out.push(`. ${s.mode.toString(8)} ${s.mtimeMs} ${lgetxattr(dir, 'user.overlay.opaque') ? 'opaque' : ''}`);
  await walk(dir);
  return out.join('\n');
}

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'slipway-hostile-'));
  sentinel = path.join(base, 'sentinel');
  await mkdir(path.join(sentinel, 'sub'), { recursive: true });
  await writeFile(path.join(sentinel, 'secret'), 'do not touch');
  await writeFile(path.join(sentinel, 'sub', 'x'), 'x');
  // The layer dir sits two levels below base, so "../../sentinel" from inside it reaches the sentinel.
  layerDir = path.join(base, 'store', 'layer');
  await mkdir(layerDir, { recursive: true });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function run(entries: TarEntry[]): Promise<unknown> {
  const layer = await makeLayer(entries);
  async function* src(): AsyncGenerator<Buffer> {
    yield layer.blob;
  }
  try {
    return await unpackLayer({
      source: src(), dir: layerDir, digest: layer.digest, diffId: layer.diffId,
      ownershipListPath: path.join(base, 'store', 'owners'),
      applyOwnership: async () => {},
    });
  } catch (e) {
    return e;
  }
}

const S = (): string => sentinel;
const rel = (p: string): string => path.relative(layerDir, p);

const rejected: [string, () => TarEntry[]][] = [
  ['a ../ entry', () => [{ name: `../../sentinel/pwned`, content: 'x' }]],
  ['a nested ../ entry', () => [{ name: 'a/b/../../../../sentinel/pwned', content: 'x' }]],
  ['a ../ directory', () => [{ name: '../', type: 'directory', mode: 0o777 }]],
  ['a file through an absolute symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/pwned', content: 'x' }]],
  ['a file through a relative symlink', () => [{ name: 'lnk', type: 'symlink', linkname: rel(S()) }, { name: 'lnk/pwned', content: 'x' }]],
  ['a file through a symlinked deep parent', () => [{ name: 'a/', type: 'directory' }, { name: 'a/b', type: 'symlink', linkname: S() }, { name: 'a/b/sub/x', content: 'overwrite' }]],
  ['a symlink chain', () => [{ name: 'l1', type: 'symlink', linkname: S() }, { name: 'l2', type: 'symlink', linkname: 'l1' }, { name: 'l2/pwned', content: 'x' }]],
  ['a directory through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/newdir/', type: 'directory' }]],
  ['a symlink through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/evil', type: 'symlink', linkname: '/' }]],
  ['a hardlink with ..', () => [{ name: 'hl', type: 'link', linkname: '../../sentinel/secret' }]],
  ['a hardlink to an absolute path outside', () => [{ name: 'hl', type: 'link', linkname: path.join(S(), 'secret') }]],
  ['a hardlink through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'hl', type: 'link', linkname: 'lnk/secret' }]],
  ['a hardlink placed through a symlink', () => [{ name: 'f', content: 'x' }, { name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/hl', type: 'link', linkname: 'f' }]],
  ['a hardlink to a symlinked dir', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/sub/../secret', type: 'link', linkname: 'lnk' }]],
  ['a whiteout through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/.wh.secret', content: '' }]],
  ['an opaque marker through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/.wh..wh..opq', content: '' }]],
  ['a whiteout of ..', () => [{ name: 'a/', type: 'directory' }, { name: 'a/.wh...', content: '' }]],
  ['a device through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/null', type: 'character-device', devmajor: 1, devminor: 3 }]],
  ['a fifo through a symlink', () => [{ name: 'lnk', type: 'symlink', linkname: S() }, { name: 'lnk/fifo', type: 'fifo' }]],
  ['a PAX path with ..', () => [{ name: 'innocent', content: 'x', pax: { path: '../../sentinel/pwned' } }]],
  ['a file under a regular file', () => [{ name: 'f', content: 'x' }, { name: 'f/g', content: 'y' }]],
];

describe('hostile layers', () => {
  it.each(rejected)('rejects %s, names the entry, writes nothing outside and removes the layer dir', async (_, make) => {
    const before = await snapshot(sentinel);
    const parentBefore = (await readdir(path.join(base, 'store'))).sort();
    const e = await run(make());
    expect(SlipwayError.is(e, 'ERR_UNPACK_UNSAFE_PATH'), String(e)).toBe(true);
    expect((e as SlipwayError).message).toMatch(/entry "/);
    expect(await snapshot(sentinel)).toBe(before);
    await expect(stat(layerDir)).rejects.toThrow();
    expect((await readdir(path.join(base, 'store'))).sort()).toEqual(parentBefore.filter((n) => n !== 'layer'));
    expect((await readdir(base)).sort()).toEqual(['sentinel', 'store']);
  });

  it('keeps absolute entry names inside the layer (leading slash stripped, as Docker does)', async () => {
    const before = await snapshot(sentinel);
    const r = await run([{ name: `${S()}/pwned`, content: 'inside' }, { name: '/etc/passwd', content: 'p' }]);
    expect(SlipwayError.is(r)).toBe(false);
    expect(await readFile(path.join(layerDir, S(), 'pwned'), 'utf8')).toBe('inside');
    expect(await readFile(path.join(layerDir, 'etc/passwd'), 'utf8')).toBe('p');
    expect(await snapshot(sentinel)).toBe(before);
  });

  it('replaces a planted symlink with a file instead of writing through it', async () => {
    const before = await snapshot(sentinel);
    const r = await run([
      { name: 'secret', type: 'symlink', linkname: path.join(S(), 'secret') },
      { name: 'secret', content: 'mine', mode: 0o777 },
      { name: 'dirlnk', type: 'symlink', linkname: S() },
      { name: 'dirlnk/', type: 'directory', mode: 0o777 },
      { name: 'wh', type: 'symlink', linkname: path.join(S(), 'secret') },
      { name: '.wh.wh', content: '' },
    ]);
    expect(SlipwayError.is(r), String(r)).toBe(false);
    expect(await readFile(path.join(layerDir, 'secret'), 'utf8')).toBe('mine');
    expect((await lstat(path.join(layerDir, 'dirlnk'))).isDirectory()).toBe(true);
    // The symlink `wh` stays (a whiteout hides lower layers only); the sentinel is untouched.
    expect((await lstat(path.join(layerDir, 'wh'))).isSymbolicLink()).toBe(true);
    expect(await snapshot(sentinel)).toBe(before);
  });

  it('symlinks pointing outside are stored verbatim (they resolve inside the container)', async () => {
    const r = await run([{ name: 'escape', type: 'symlink', linkname: '../../../../../../etc/shadow' }]);
    expect(SlipwayError.is(r)).toBe(false);
    expect((await lstat(path.join(layerDir, 'escape'))).isSymbolicLink()).toBe(true);
  });

  it('rejects a layer that would replace its root', async () => {
    const e = await run([{ name: './', type: 'symlink', linkname: S() }]);
    expect(SlipwayError.is(e, 'ERR_UNPACK_UNSAFE_PATH'), String(e)).toBe(true);
  });

  it('does not follow a symlink already in the layer dir', async () => {
    // Defence in depth: the directory given is fresh, but a symlink in the path must never be followed.
    await symlink(sentinel, path.join(layerDir, 'pre'));
    const before = await snapshot(sentinel);
    const e = await run([{ name: 'pre', content: 'x' }]);
    // Not known to the layer: creating the file with O_EXCL|O_NOFOLLOW fails instead of writing through.
    expect(SlipwayError.is(e)).toBe(false);
    expect(e).toBeInstanceOf(Error);
    expect(await snapshot(sentinel)).toBe(before);
  });
});

describe('a layer of zeros (a few KiB of gzip that expand to many MiB)', () => {
  it('unpacks a 64 MiB file of zeros as a hole, not 64 MiB of store disk, with its content intact', async () => {
    const size = 64 << 20;
    const content = Buffer.alloc(size);
    content.write('head', 0);
    content.write('tail', size - 4);
    const r = await run([{ name: 'zeros', content }]);
    expect(r).not.toBeInstanceOf(Error);
    const st = await stat(path.join(layerDir, 'zeros'));
    expect(st.size).toBe(size);
    // The old unpacker wrote every zero: 64 MiB allocated.
    expect(st.blocks * 512).toBeLessThan(4 << 20);
    const back = await readFile(path.join(layerDir, 'zeros'));
    expect(back.equals(content)).toBe(true);
  });

  it('keeps a file that ends in zeros its full size', async () => {
    const content = Buffer.concat([Buffer.from('x'), Buffer.alloc(1 << 20)]);
    await run([{ name: 'z', content }]);
    expect((await stat(path.join(layerDir, 'z'))).size).toBe(content.length);
    expect((await readFile(path.join(layerDir, 'z'))).equals(content)).toBe(true);
  });
});


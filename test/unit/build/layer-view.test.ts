import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LayerView } from '../../../src/build/layer-view.js';
import { lsetxattr, mknod, S_IFCHR } from '../../../src/image/syscalls.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function layers(): Promise<{ lower: string; upper: string; host: string }> {
  const root = await mkdtemp(join(tmpdir(), 'slipway-view-'));
  dirs.push(root);
  const [lower, upper, host] = ['lower', 'upper', 'host'].map((n) => join(root, n)) as [string, string, string];
  for (const d of [lower, upper, host]) await mkdir(d);
  await writeFile(join(host, 'secret'), 'host secret');
  await mkdir(join(lower, 'etc'));
  await writeFile(join(lower, 'etc/os'), 'lower');
  await writeFile(join(lower, 'etc/gone'), 'x');
  await mkdir(join(lower, 'usr/bin'), { recursive: true });
  await writeFile(join(lower, 'usr/bin/tool'), 't');
  await symlink('usr/bin', join(lower, 'bin'));
  await mkdir(join(upper, 'etc'));
  await writeFile(join(upper, 'etc/new'), 'upper');
  return { lower, upper, host };
}

describe('LayerView', () => {
  it('merges layers (top wins), resolves image symlinks inside the image root', async () => {
    const { lower, upper } = await layers();
    const v = new LayerView([upper, lower]);
    expect(await v.list('etc')).toEqual(['gone', 'new', 'os']);
    expect(await v.resolve('/bin/tool', true)).toBe('usr/bin/tool');
    expect(await v.resolve('/bin/../../../etc/os')).toBe('etc/os');
    expect((await v.lookup('usr/bin/tool'))?.path).toBe(join(lower, 'usr/bin/tool'));
  });

  it('whiteouts and opaque directories hide lower entries', async () => {
    const { lower, upper } = await layers();
    try {
      mknod(join(upper, 'etc/gone'), S_IFCHR, 0n);
      await mkdir(join(upper, 'usr'));
      lsetxattr(join(upper, 'usr'), 'user.overlay.opaque', Buffer.from('y'));
    } catch {
      return; // no CAP_MKNOD or no user xattrs here
    }
    const v = new LayerView([upper, lower]);
    expect(await v.lookup('etc/gone')).toBeUndefined();
    expect(await v.list('etc')).toEqual(['new', 'os']);
    expect(await v.lookup('usr/bin/tool')).toBeUndefined();
    expect(await v.list('usr')).toEqual([]);
  });

  it('attacker: a symlink in a lower layer under a directory of a higher one never leads to host files', async () => {
    const { lower, upper, host } = await layers();
    // Lower: `data` -> the host dir (absolute). Upper: `data` is a directory. The merged `data` is the upper's
    // directory only; `data/secret` must not be read through the lower symlink.
    await symlink(host, join(lower, 'data'));
    await mkdir(join(upper, 'data'));
    const v = new LayerView([upper, lower]);
    expect(await v.lookup('data/secret')).toBeUndefined();
    expect(await v.list('data')).toEqual([]);
    // And a symlink as an ancestor in the only layer is not followed either.
    const only = new LayerView([lower]);
    expect(await only.lookup('data/secret')).toBeUndefined();
    expect(await only.resolve('/data/secret', true)).toBe(join(host, 'secret').slice(1));
  });
});

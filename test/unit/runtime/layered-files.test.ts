import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFromLayers } from '../../../src/runtime/layered-files.js';

function layers(): { top: string; bottom: string; host: string } {
  const base = mkdtempSync(join(tmpdir(), 'slipway-layered-'));
  const top = join(base, 'top');
  const bottom = join(base, 'bottom');
  const host = join(base, 'host');
  for (const d of [join(top), join(bottom, 'etc'), host]) mkdirSync(d, { recursive: true });
  writeFileSync(join(bottom, 'etc', 'passwd'), 'image:x:1:1::/:/bin/sh\n');
  writeFileSync(join(host, 'passwd'), 'host-secret:x:0:0::/:/bin/sh\n');
  return { top, bottom, host };
}

describe('readFromLayers', () => {
  it('reads the topmost layer that has the file', async () => {
    const l = layers();
    expect(await readFromLayers([l.top, l.bottom], 'etc/passwd')).toBe('image:x:1:1::/:/bin/sh\n');
    mkdirSync(join(l.top, 'etc'));
    writeFileSync(join(l.top, 'etc', 'passwd'), 'top\n');
    expect(await readFromLayers([l.top, l.bottom], '/etc/passwd')).toBe('top\n');
  });

  it('never follows a symlinked directory on the way (a layer with etc -> a host directory)', async () => {
    const l = layers();
    symlinkSync(l.host, join(l.top, 'etc'));
    expect(await readFromLayers([l.top, l.bottom], 'etc/passwd')).toBeUndefined();
  });

  it('a file on the way hides the path in lower layers; a symlink or FIFO at the path reads as absent without blocking', async () => {
    const l = layers();
    writeFileSync(join(l.top, 'etc'), 'not a dir');
    expect(await readFromLayers([l.top, l.bottom], 'etc/passwd')).toBeUndefined();
    const l2 = layers();
    mkdirSync(join(l2.top, 'etc'));
    symlinkSync(join(l2.host, 'passwd'), join(l2.top, 'etc', 'passwd'));
    expect(await readFromLayers([l2.top, l2.bottom], 'etc/passwd')).toBeUndefined();
    const l3 = layers();
    mkdirSync(join(l3.top, 'etc'));
    execFileSync('mkfifo', [join(l3.top, 'etc', 'passwd')]);
    expect(await readFromLayers([l3.top, l3.bottom], 'etc/passwd')).toBeUndefined();
  });

  it('refuses paths that climb out', async () => {
    const l = layers();
    expect(await readFromLayers([join(l.top, 'x')], '../host/passwd')).toBeUndefined();
  });
});

describe('readContainerFile', () => {
  it('asks the keeper for the entry only (never a tree the container put there) and follows links inside the container', async () => {
    const { readContainerFile } = await import('../../../src/runtime/container-files.js');
    const calls: { path: string; topOnly?: boolean }[] = [];
    const tree: Record<string, { type: 'file' | 'directory' | 'symlink'; content?: string; linkTarget?: string }> = {
      '/etc/passwd': { type: 'symlink', linkTarget: '../srv/passwd' },
      '/srv/passwd': { type: 'file', content: 'u:x:1:1::/:/bin/sh\n' },
      '/etc/group': { type: 'directory' },
    };
    const keeper = {
      async *getFiles(_id: string, path: string, opts?: { topOnly?: boolean }) {
        calls.push({ path, topOnly: opts?.topOnly });
        const e = tree[path];
        if (!e) throw Object.assign(new Error('missing'), { code: 'ERR_COPY_SOURCE_MISSING' });
        yield { path, mode: 0o644, uid: 0, gid: 0, type: e.type, linkTarget: e.linkTarget, content: e.content === undefined ? undefined : Buffer.from(e.content) };
      },
    };
    expect(await readContainerFile(keeper, 'c', '/etc/passwd')).toBe('u:x:1:1::/:/bin/sh\n');
    expect(await readContainerFile(keeper, 'c', '/etc/group')).toBeUndefined();
    expect(await readContainerFile(keeper, 'c', '/etc/shadow')).toBeUndefined();
    expect(calls.map((c) => c.path)).toEqual(['/etc/passwd', '/srv/passwd', '/etc/group', '/etc/shadow']);
    expect(calls.every((c) => c.topOnly === true)).toBe(true);
  });
});

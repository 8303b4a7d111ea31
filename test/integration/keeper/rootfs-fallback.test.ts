import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, rmSync, symlinkSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { lsetxattr } from '../../../src/image/syscalls.js';
import { busyboxRootfs, removalSettled, runToExit, skipReason, specFor } from './fixture.js';

function fuseSkip(): string | undefined {
  const s = skipReason();
  if (s) return s;
  try {
    execFileSync('fuse-overlayfs', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'fuse-overlayfs is not installed';
  }
  try {
    const st = statSync('/dev/fuse');
    if (process.getuid!() !== 0 && (st.mode & 0o006) !== 0o006) return '/dev/fuse is not world read/writable (chmod 666 /dev/fuse)';
  } catch {
    return 'no /dev/fuse';
  }
  return undefined;
}

/** Two layers in overlay format: the top one whites out /data/gone.txt and makes /opq opaque. */
function twoLayers(): { lower: string; top: string } {
  const base = mkdtempSync(join(tmpdir(), 'slipway-rootfs-fallback-'));
  chmodSync(base, 0o755);
  const lower = join(base, 'lower');
  const top = join(base, 'top');
  mkdirSync(join(lower, 'data'), { recursive: true, mode: 0o755 });
  mkdirSync(join(lower, 'opq'), { recursive: true, mode: 0o755 });
  writeFileSync(join(lower, 'data', 'gone.txt'), 'gone\n');
  writeFileSync(join(lower, 'data', 'kept.txt'), 'kept\n');
  chmodSync(join(lower, 'data', 'kept.txt'), 0o640);
  if (process.getuid!() === 0) chownSync(join(lower, 'data', 'kept.txt'), 1000, 1000);
  symlinkSync('/etc/outside', join(lower, 'data', 'link'));
  writeFileSync(join(lower, 'opq', 'old.txt'), 'old\n');
  mkdirSync(join(top, 'data'), { recursive: true, mode: 0o755 });
  mkdirSync(join(top, 'opq'), { recursive: true, mode: 0o755 });
  execFileSync('mknod', [join(top, 'data', 'gone.txt'), 'c', '0', '0']);
  lsetxattr(join(top, 'opq'), 'user.overlay.opaque', Buffer.from('y'));
  writeFileSync(join(top, 'opq', 'new.txt'), 'new\n');
  return { lower, top };
}

/** Mount points of the host's mount namespace under a path. */
function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(path));
}

function processesNamed(name: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === name) out.push(Number(p));
    } catch { /* gone */ }
  }
  return out;
}

const fuse = fuseSkip();
if (fuse) console.warn(`fuse-overlayfs rootfs tests skipped: ${fuse}`);

describe.each([
  { strategy: 'fuse-overlayfs', skip: fuse },
  { strategy: 'copy', skip: skipReason() },
])('keeper: SLIPWAY_ROOTFS=$strategy', ({ strategy, skip }) => {
  let keeper: Keeper;
  let layers: { lower: string; top: string };
  beforeAll(async () => {
    if (skip) return;
    layers = twoLayers();
    busyboxRootfs();
    const saved = process.env.SLIPWAY_ROOTFS;
    process.env.SLIPWAY_ROOTFS = strategy;
    try {
      keeper = await Keeper.start();
    } finally {
      if (saved === undefined) delete process.env.SLIPWAY_ROOTFS;
      else process.env.SLIPWAY_ROOTFS = saved;
    }
  });
  afterAll(async () => {
    await keeper?.close();
  });

  it.skipIf(skip)('applies whiteouts and opaque dirs, writes land in the upper dir, nothing stays behind', async () => {
    const before = processesNamed('fuse-overlayfs');
    const script = [
      'ls /data | tr "\\n" " "; echo',
      'ls /opq | tr "\\n" " "; echo',
      'cat /data/kept.txt',
      'stat -c "%a %u" /data/kept.txt',
      'readlink /data/link',
      'echo written > /data/new.txt',
      'rm /data/kept.txt',
      'grep -c " / fuse" /proc/self/mounts',
    ].join('; ');
    const spec = specFor(keeper, ['/bin/sh', '-c', script], { lowerDirs: [layers.top, layers.lower, busyboxRootfs()] });
    await keeper.createContainer(spec);
    const during = processesNamed('fuse-overlayfs').filter((p) => !before.includes(p));
    expect(during.length > 0).toBe(strategy === 'fuse-overlayfs');
    await keeper.startContainer(spec.id);
    const exit = await keeper.waitContainer(spec.id);
    const log = readFileSync(spec.logPath!, 'utf8');
    const stdout = log.split('\n').filter((l) => / stdout [FP] /.test(l)).map((l) => l.replace(/^\S+ stdout [FP] /, ''));
    const owner = process.getuid!() === 0 ? '1000' : '0';
    expect(stdout).toEqual(['kept.txt link ', 'new.txt ', 'kept', `640 ${owner}`, '/etc/outside', strategy === 'fuse-overlayfs' ? '1' : '0']);
    // grep -c exits 1 when it counts 0.
    expect(exit).toEqual({ exitCode: strategy === 'fuse-overlayfs' ? 0 : 1, signal: null });
    // Writes and deletions land in the upper dir; the layers are untouched.
    expect(readFileSync(join(spec.upperDir!, 'data', 'new.txt'), 'utf8')).toBe('written\n');
    const kept = join(spec.upperDir!, 'data', 'kept.txt');
    if (strategy === 'fuse-overlayfs') {
      const wh = join(spec.upperDir!, 'data', '.wh.kept.txt');
      expect(existsSync(wh) || statSync(kept).isCharacterDevice()).toBe(true);
    } else {
      expect(existsSync(kept)).toBe(false);
      expect(existsSync(join(spec.upperDir!, 'data', 'gone.txt'))).toBe(false);
      expect(readdirSync(join(spec.upperDir!, 'opq'))).toEqual(['new.txt']);
    }
    expect(readFileSync(join(layers.lower, 'data', 'kept.txt'), 'utf8')).toBe('kept\n');
    expect(existsSync(join(layers.top, 'data', 'new.txt'))).toBe(false);
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(existsSync(spec.stateDir)).toBe(false);
    expect(mountsUnder(spec.stateDir)).toEqual([]);
    // fuse-overlayfs runs outside the container (a child of the keeper), which kills and reaps it
    // once init is gone: wait for that, boundedly.
    for (let i = 0; i < 100 && during.some((p) => existsSync(`/proc/${p}`)); i++) await new Promise((r) => setTimeout(r, 50));
    for (const p of during) expect(existsSync(`/proc/${p}`)).toBe(false);
  });
});

describe.skipIf(fuse)('keeper: SLIPWAY_ROOTFS=auto', () => {
  let keeper: Keeper;
  beforeAll(async () => {
    busyboxRootfs();
    const saved = process.env.SLIPWAY_ROOTFS;
    delete process.env.SLIPWAY_ROOTFS;
    try {
      keeper = await Keeper.start();
    } finally {
      if (saved !== undefined) process.env.SLIPWAY_ROOTFS = saved;
    }
  });
  afterAll(async () => {
    await keeper?.close();
  });

  it('falls back to fuse-overlayfs when the kernel refuses the overlay', async () => {
    // Kernel overlayfs stacks at most 500 lower layers; fuse-overlayfs has no such limit.
    const base = mkdtempSync(join(tmpdir(), 'slipway-fallback-layers-'));
    chmodSync(base, 0o755);
    try {
      const empties: string[] = [];
      for (let i = 0; i < 501; i++) {
        empties.push(join(base, String(i)));
        mkdirSync(empties[i]!, { mode: 0o755 });
      }
      const spec = specFor(keeper, ['/bin/sh', '-c', 'echo hi > /tmp/x; cat /tmp/x; grep -c " / fuse" /proc/self/mounts'],
        { lowerDirs: [...empties, busyboxRootfs()] });
      const { exit, stdout } = await runToExit(keeper, spec);
      expect(stdout).toBe('hi\n1');
      expect(exit).toEqual({ exitCode: 0, signal: null });
      await removalSettled(keeper, spec.stateDir);
      expect(existsSync(spec.stateDir)).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skipReason())('keeper: SLIPWAY_ROOTFS validation', () => {
  it('refuses an unknown strategy at start, naming the accepted ones', async () => {
    const saved = process.env.SLIPWAY_ROOTFS;
    process.env.SLIPWAY_ROOTFS = 'bogus';
    try {
      await expect(Keeper.start()).rejects.toThrow(/SLIPWAY_ROOTFS=bogus: expected auto, overlay, fuse-overlayfs or copy/);
    } finally {
      if (saved === undefined) delete process.env.SLIPWAY_ROOTFS;
      else process.env.SLIPWAY_ROOTFS = saved;
    }
  });
});

/**
 * Hole: with the fuse-overlayfs root, fuse-overlayfs holds directory fds of the host (the layers,
 * the upper dir) and runs with every capability of the keeper's user namespace. A container given
 * SYS_PTRACE must not be able to see it, let alone go through its /proc entries to host files.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, runToExit, skipReason, specFor } from '../keeper/fixture.js';

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

const skip = fuseSkip();
if (skip) console.warn(`fuse-overlayfs reach test skipped: ${skip}`);

// Every pid the container can see, its name, and whatever its fd, root and cwd links lead to.
const ATTACK = [
  'for d in /proc/[0-9]*; do',
  '  p=${d#/proc/}; n=$(cat $d/comm 2>/dev/null)',
  '  echo "PROC $p $n"',
  '  for f in $d/fd/* $d/root $d/cwd; do',
  '    cat $f/../host-secret.txt $f/host-secret.txt $f/tmp/slipway-host-secret.txt 2>/dev/null',
  '    echo pwned > $f/../pwned 2>/dev/null',
  '  done',
  'done',
].join('\n');

// Forced, and automatic past the kernel overlay's 500-layer limit.
describe.skipIf(skip).each([
  { strategy: 'fuse-overlayfs', empties: 0 },
  { strategy: 'auto', empties: 501 },
])('security: fuse-overlayfs ($strategy) is out of reach of a container with SYS_PTRACE', ({ strategy, empties }) => {
  let keeper: Keeper;
  let base: string;
  const emptyLayers: string[] = [];
  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'slipway-fuse-reach-'));
    chmodSync(base, 0o755);
    for (let i = 0; i < empties; i++) {
      emptyLayers.push(join(base, `e${i}`));
      mkdirSync(emptyLayers[i]!, { mode: 0o755 });
    }
    mkdirSync(join(base, 'layer', 'data'), { recursive: true, mode: 0o755 });
    writeFileSync(join(base, 'layer', 'data', 'f'), 'in the image\n');
    writeFileSync(join(base, 'host-secret.txt'), 'HOST-SECRET\n');
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
    rmSync(base, { recursive: true, force: true });
  });

  it('sees only its own processes and reads or writes nothing of the host through /proc', async () => {
    const spec = specFor(keeper, ['/bin/sh', '-c', `cat /data/f; grep -c " / fuse" /proc/self/mounts; ${ATTACK}`], {
      lowerDirs: [join(base, 'layer'), ...emptyLayers, busyboxRootfs()],
      capabilities: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_SYS_PTRACE'],
    });
    writeFileSync(join(spec.upperDir!, '..', 'host-secret.txt'), 'HOST-SECRET\n');
    const { exit, stdout } = await runToExit(keeper, spec);
    const lines = stdout.split('\n');
    // The root really is fuse-overlayfs (otherwise this proves nothing).
    expect(lines.slice(0, 2)).toEqual(['in the image', '1']);
    const procs = lines.filter((l) => l.startsWith('PROC ')).map((l) => l.split(' ')[2]);
    expect(procs).not.toContain('fuse-overlayfs');
    expect(procs.every((n) => ['slipway-init', 'sh', 'cat'].includes(n!))).toBe(true);
    expect(stdout).not.toContain('HOST-SECRET');
    expect(existsSync(join(base, 'pwned'))).toBe(false);
    expect(existsSync(join(base, 'layer', 'pwned'))).toBe(false);
    expect(readFileSync(join(base, 'host-secret.txt'), 'utf8')).toBe('HOST-SECRET\n');
    expect(exit.exitCode).toBe(0);
  });
});

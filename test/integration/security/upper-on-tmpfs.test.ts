/**
 * A container's writable layer and a state dir on tmpfs. The automatic state dir (`/run/slipway` as root,
 * `$XDG_RUNTIME_DIR/slipway`) is a RAM-backed tmpfs of 10-20% of memory on systemd hosts: with the writable layer
 * there, one container writing a lot filled it (every container then failed with ENOSPC; as root, host services
 * using /run too) and held the data in memory. The layer now goes to a temp dir of the image store (on disk), which
 * remove() removes, and a store sweep removes once the process that made it was SIGKILLed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ImageStore } from '../../../src/image/store.js';
import { removeTree } from '../../../src/runtime/index.js';
import { fixtureRef, helperBuilt, isRoot, nativeOnly, skipUnless, spawnTsChild, userNamespacesAllowed } from '../harness/index.js';

const MiB = 1 << 20;
interface ChildInfo { exitCode: number; output: string; stateKiB: number; stateDir: string; uppers: string[]; left: string[]; storeRoot: string }

/**
 * A tmpfs to be the child's XDG_RUNTIME_DIR: as root a mount of 8 MiB (smaller than what the container writes); rootless
 * a dir in /dev/shm (a tmpfs anyone may write, but a big one: there the check is how much of it the state dir uses).
 */
function tmpfsRuntimeDir(): { dir: string; done: () => void } {
  if (isRoot()) {
    const dir = mkdtempSync(join(tmpdir(), 'upper-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir]);
    return { dir, done: () => { execFileSync('umount', ['-l', dir]); rmSync(dir, { recursive: true, force: true }); } };
  }
  const dir = mkdtempSync('/dev/shm/upper-tmpfs-');
  return { dir, done: () => void removeTree(dir).catch(() => rmSync(dir, { recursive: true, force: true })) };
}

async function run(mode: 'remove' | 'kill') {
  const rt = tmpfsRuntimeDir();
  // The automatic state dir, not the stateDir setting (an explicit one is respected, tmpfs or not).
  const { child, info } = await spawnTsChild<ChildInfo>(join(import.meta.dirname, 'upper-on-tmpfs-child.mts'), {
    UPPER_REF: fixtureRef('busybox'), UPPER_REMOVE: mode === 'remove' ? '1' : '0', XDG_RUNTIME_DIR: rt.dir, SLIPWAY_STATE_DIR: undefined,
  });
  return { child, info, rt };
}

skipUnless(helperBuilt() && userNamespacesAllowed() && existsSync('/dev/shm'), 'the native helper is not built or user namespaces are unavailable')('security: the writable layer and a state dir on tmpfs', () => {
  nativeOnly('an engine keeps writable layers in its own storage')('a container writing 32 MiB succeeds, and the tmpfs state dir stays nearly empty; remove() removes the layer', async () => {
    const { child, info, rt } = await run('remove');
    try {
      expect(statfsSync(info.stateDir).type).toBe(0x01021994);
      // The old layout: `dd: error writing '/big': No space left on device` as root (8 MiB), 32 MiB of memory rootless.
      expect(info.exitCode, info.output).toBe(0);
      expect(info.stateKiB * 1024).toBeLessThan(2 * MiB);
      expect(info.uppers).toHaveLength(1);
      expect(info.uppers[0]!.startsWith(join(info.storeRoot, 'tmp'))).toBe(true);
      expect(info.left).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      rt.done();
    }
  });

  nativeOnly('an engine keeps writable layers in its own storage')('after the test process is SIGKILLed, the next store sweep removes the layer', async () => {
    const { child, info, rt } = await run('kill');
    try {
      expect(info.exitCode, info.output).toBe(0);
      expect(info.uppers).toHaveLength(1);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      // The keeper tears down the state dir when its parent dies; the layer in the store waits for a sweep
      // (its name carries the dead pid). Rootless its files belong to the container's ids: removed through a keeper.
      await new ImageStore(info.storeRoot, { removeTree }).init();
      expect(existsSync(info.uppers[0]!)).toBe(false);
    } finally {
      child.kill('SIGKILL');
      rt.done();
    }
  });
});

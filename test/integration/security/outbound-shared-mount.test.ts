/**
 * slirp4netns --enable-sandbox makes a mount namespace of its own and unmounts its old root. Started by real root
 * from the host's user namespace, that namespace held the host's shared mounts as peers and the unmount reached the
 * host (Docker's overlay mounts under its shared data root vanished). The keeper now starts slirp4netns inside its
 * own user namespace, where the kernel copies shared mounts as slaves: played here with a canary tmpfs below a shared
 * mount, through a real container start and removal. Root only: an unprivileged user cannot make host mounts (and a
 * rootless slirp4netns always ran inside the container's user namespace).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, hasCommand, helperBuilt, isRoot, testUnless, tunUsable, userNamespacesAllowed } from '../harness/index.js';

const exec = promisify(execFile);
const canRun = helperBuilt() && userNamespacesAllowed() && isRoot() && tunUsable() && hasCommand('slirp4netns');

/** The slirp4netns processes serving `initPid` (it takes the pid as an argument). */
async function slirpOf(initPid: number): Promise<number[]> {
  const { stdout } = await exec('pgrep', ['-f', `slirp4netns .* ${initPid} eth0`]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}

testUnless(canRun, 'needs root, slirp4netns, a usable /dev/net/tun and user namespaces (rootless cannot make host mounts)')(
  'a container\'s slirp4netns runs under the keeper and leaves host mounts below a shared mount alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-shared-ctr-'));
    const child = join(dir, 'child');
    const mounted = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === child);
    await exec('mount', ['--bind', dir, dir]);
    try {
      await exec('mount', ['--make-shared', dir]);
      await exec('mkdir', ['-p', child]);
      await exec('mount', ['-t', 'tmpfs', 'slipway-canary', child]);
      expect(await mounted()).toBe(true);
      const keeper = await Keeper.get();
      {
        await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
        const [slirp, ...more] = await slirpOf(c.pid);
        expect(more).toEqual([]);
        // The keeper's child, in the keeper's user namespace: no unshare(1) in between.
        const ppid = Number(/^PPid:\s+(\d+)/m.exec(await readFile(`/proc/${slirp}/status`, 'utf8'))![1]);
        expect(ppid).toBe(keeper.pid);
        const ns = async (pid: number | string) => (await exec('readlink', [`/proc/${pid}/ns/user`])).stdout.trim();
        expect(await ns(slirp!)).toBe(await ns(keeper.pid));
        // Its sandbox holds no mount as a peer of the host's: every copy is a slave or private.
        expect((await readFile(`/proc/${slirp}/mountinfo`, 'utf8')).split('\n').filter((l) => / shared:\d+/.test(l))).toEqual([]);
        expect(await mounted()).toBe(true);
      }
      expect(await mounted()).toBe(true);
    } finally {
      await exec('umount', ['-R', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

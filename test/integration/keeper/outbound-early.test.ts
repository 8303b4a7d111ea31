/**
 * The outbound helper (slirp4netns) is asked for right behind CREATE, before its answer: the keeper writes init's pid
 * into its argv and starts it as soon as the container's network namespace has its tap, beside init's setup of the
 * root. Whatever ends the container first (a CREATE that fails, a stop, a removal) leaves no helper behind, whether it
 * was still waiting for the network or already running. A stand-in helper (a shell script) records its argv, says it
 * is ready and then never exits by itself: only the keeper can end it.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { KeeperError } from '../../../src/runtime/keeper/keeper-error.js';
import { busyboxRootfs, childrenOf, removalSettled, skipReason, specFor, sleepersOf, until } from './fixture.js';

const skip = skipReason();
const STUCK = '7393'; // the stand-in's `sleep` argument, to find it in /proc

const stuckHelpers = (): number[] => sleepersOf(STUCK);

describe.skipIf(skip)('keeper: an outbound helper asked for before CREATE is answered', () => {
  let keeper: Keeper;
  let dir: string;
  let helper: string;
  beforeAll(async () => {
    busyboxRootfs();
    dir = mkdtempSync(join(tmpdir(), 'slipway-outbound-early-'));
    helper = join(dir, 'helper');
    // $1: where to record the pid it was given ($2); fd 3 is the ready pipe.
    writeFileSync(helper, `#!/bin/sh\necho "$2" > "$1"\nprintf 1 >&3\nexec sleep ${STUCK}\n`);
    chmodSync(helper, 0o755);
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    await keeper?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const isolated = () => ({ netMode: 'isolated' as const, tap: 'eth0' });

  it("gets init's pid in its argv, is ready before START, and goes with the container", async () => {
    const spec = specFor(keeper, ['true'], isolated());
    const marker = join(dir, 'pid-1');
    const created = keeper.createContainer(spec);
    const started = keeper.startOutbound(spec.id, [helper, marker, null]);
    const [{ pid }, helperPid] = await Promise.all([created, started]);
    expect(readFileSync(marker, 'utf8').trim()).toBe(String(pid));
    expect(childrenOf(keeper.pid)).toContain(helperPid);
    await keeper.startContainer(spec.id);
    expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: 0, signal: null });
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(childrenOf(keeper.pid)).toEqual([]);
    expect(stuckHelpers()).toEqual([]);
  });

  it('a removal, and a release for restart, is answered once the container\'s helper is reaped, however slow it is to die', async () => {
    // A helper with half a GiB written to unmap: its SIGKILL takes a while to end it. Node sends no OUTBOUND_STOP
    // before REMOVE: the keeper kills the helper with init and answers once it is reaped, not a zombie or exiting.
    const slow = join(dir, 'slow');
    writeFileSync(slow, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -e 'const b = Buffer.alloc(512 * 2 ** 20, 1); require("fs").writeSync(3, "1"); setInterval(() => b[0]++, 1e6)'\n`);
    chmodSync(slow, 0o755);
    for (const release of [false, true]) {
      const spec = specFor(keeper, ['sleep', '1000'], isolated());
      const created = keeper.createContainer(spec);
      const helperPid = await keeper.startOutbound(spec.id, [slow, null]);
      await created;
      await keeper.startContainer(spec.id);
      await (release ? keeper.releaseContainer(spec.id) : keeper.removeContainer(spec.id));
      expect(existsSync(`/proc/${helperPid}`)).toBe(false);
      if (release) await keeper.removeContainer(spec.id);
      await removalSettled(keeper, spec.stateDir);
    }
  });

  it('a CREATE that fails in the mount setup leaves no helper, started or waiting', async () => {
    const spec = specFor(keeper, ['true'], {
      ...isolated(),
      // The target is below a regular file of the image: init fails after it made the tap (and said so).
      mounts: [{ type: 'bind', source: dir, target: '/etc/passwd/below', readonly: true }],
    });
    const created = keeper.createContainer(spec);
    const started = keeper.startOutbound(spec.id, [helper, join(dir, 'pid-2'), null]);
    const [c, s] = await Promise.allSettled([created, started]);
    expect(c.status).toBe('rejected');
    // Ready before init failed (it runs beside the mount setup), killed with its container before it was ready ("lost
    // its container"), never started ("exited before its network was ready"), or, when the request came after init
    // was reaped, refused ("container is not running"): never a helper left running.
    if (s.status === 'rejected') expect(KeeperError.isKind(s.reason, 'network') || KeeperError.isKind(s.reason, 'container-state'), String(s.reason)).toBe(true);
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(childrenOf(keeper.pid)).toEqual([]);
    await until(() => stuckHelpers().length === 0);
    expect(stuckHelpers()).toEqual([]);
  });

  it('a stop or a removal that comes right behind it, before the network is ready, leaves no helper', async () => {
    for (const end of ['stop', 'remove'] as const) {
      const spec = specFor(keeper, ['true'], isolated());
      const created = keeper.createContainer(spec);
      const started = keeper.startOutbound(spec.id, [helper, join(dir, `pid-${end}`), null]);
      const ended = end === 'stop' ? keeper.stopOutbound(spec.id) : keeper.removeContainer(spec.id);
      const [, s] = await Promise.allSettled([created, started, ended]);
      await ended;
      expect(s.status, end).toBe('rejected');
      await keeper.removeContainer(spec.id);
      await removalSettled(keeper, spec.stateDir);
      expect(childrenOf(keeper.pid), end).toEqual([]);
      await until(() => stuckHelpers().length === 0);
      expect(stuckHelpers(), end).toEqual([]);
      expect(existsSync(spec.stateDir)).toBe(false);
    }
  });
});

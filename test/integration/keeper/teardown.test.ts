import { ChildProcess, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { format } from 'node:util';
import createDebug from 'debug';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { spawnTsChild, until } from '../harness/index.js';
import { busyboxRootfs, hostId, processGone, skipReason, specFor } from './fixture.js';

const skip = skipReason();


describe.skipIf(skip)('keeper: teardown, sweep and file ops', () => {
  const keepers: Keeper[] = [];
  afterAll(async () => {
    for (const k of keepers) await k.close();
  });

  it('a SIGKILLed Node process takes its keeper and containers with it', async () => {
    busyboxRootfs();
    const { child, info } = await spawnTsChild<{ keeperPid: number; initPid: number; stateDir: string; keeperDir: string }>(join(import.meta.dirname, 'teardown-child.mts'));
    expect(processGone(info.initPid)).toBe(false);
    expect(existsSync(info.stateDir)).toBe(true);
    const grandchildren = readFileSync(`/proc/${info.initPid}/task/${info.initPid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    child.kill('SIGKILL');
    // The chain (stdin EOF, PR_SET_PDEATHSIG) has no slower fallback: broken, it leaves all of this for good. So the wait
    // may be generous for a loaded CI machine (it was 2 s) and still tells the two apart.
    const took = await until(() => processGone(info.initPid) && grandchildren.every(processGone) && processGone(info.keeperPid) && !existsSync(info.stateDir) && !existsSync(info.keeperDir), 20_000);
    console.log(`[teardown] keeper and container gone ${took} ms after the SIGKILL`);
  });

  it('close() kills containers and removes the keeper dir, the keeper exiting by itself', async () => {
    const k = await Keeper.start();
    const spec = specFor(k, ['sleep', '1000']);
    const { pid } = await k.createContainer(spec);
    await k.startContainer(spec.id);
    // close() SIGKILLs a keeper still there after 3 s: it must never need to (this was a 1 s wall-clock bound, which a
    // loaded CI machine can miss while the keeper does its work).
    const kill = vi.spyOn(ChildProcess.prototype, 'kill');
    try {
      await k.close();
    } finally {
      kill.mockRestore();
    }
    expect(kill).not.toHaveBeenCalled();
    expect(processGone(pid)).toBe(true);
    expect(existsSync(k.stateDir)).toBe(false);
  });

  // REMOVE is answered once the container is dead; a child of the keeper's deletes its state dir afterwards.
  it('a Node process that exits right after a removal leaves none of the container\'s files or processes', async () => {
    busyboxRootfs();
    const root = mkdtempSync(join(tmpdir(), 'slipway-removal-exit-'));
    chmodSync(root, 0o700);
    try {
      const { child, info } = await spawnTsChild<{ keeperPid: number; keeperDir: string; stateDir: string; exit: unknown }>(
        join(import.meta.dirname, 'removal-exit-child.mts'), { REMOVAL_EXIT_ROOT: root });
      expect(info.exit).toEqual({ exitCode: 0, signal: null });
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      await until(() => processGone(info.keeperPid), 20000).catch(() => undefined);
      expect(processGone(info.keeperPid)).toBe(true);
      expect(existsSync(info.stateDir)).toBe(false);
      expect(existsSync(info.keeperDir)).toBe(false);
      // The keeper's forks (workers, the namespaces' closer, the removal) carry its command line, root included.
      const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(root) && !processGone(Number(p)); } catch { return false; }
      });
      expect(left).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  // A removal's slow cleanup runs in the keeper's long-lived janitors (native/janitor.h), which outlive any one
  // container: a keeper killed outright must take them along, and they must hold nothing that keeps it from being seen gone.
  it('a keeper SIGKILLed after removals leaves none of its children (the janitors among them) behind', async () => {
    busyboxRootfs();
    const root = mkdtempSync(join(tmpdir(), 'slipway-janitor-kill-'));
    chmodSync(root, 0o700);
    const k = await Keeper.start({ stateRoot: root });
    try {
      for (let i = 0; i < 2; i++) {
        const spec = specFor(k, ['/bin/sh', '-c', 'echo x > /file']);
        await k.createContainer(spec);
        await k.startContainer(spec.id);
        expect(await k.waitContainer(spec.id)).toEqual({ exitCode: 0, signal: null });
        await k.removeContainer(spec.id);
      }
      const children = readFileSync(`/proc/${k.pid}/task/${k.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      process.kill(k.pid, 'SIGKILL');
      await until(() => processGone(k.pid) && children.every(processGone), 20000).catch(() => undefined);
      expect(processGone(k.pid)).toBe(true);
      const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(root) && !processGone(Number(p)); } catch { return false; }
      });
      expect(left).toEqual([]);
    } finally {
      await k.close().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid!() !== 0)('a state dir that cannot be deleted: REMOVE still succeeds and the keeper logs why (root: chattr +i)', async () => {
    const lines: string[] = [];
    const saved = { log: createDebug.log, namespaces: createDebug.disable() };
    createDebug.enable('slipway:keeper:helper');
    createDebug.log = (...a: unknown[]) => { lines.push(format(...a)); };
    const k = await Keeper.start();
    let stuck = '';
    try {
      const spec = specFor(k, ['/bin/sh', '-c', 'echo x > /stuck']);
      await k.createContainer(spec);
      await k.startContainer(spec.id);
      expect(await k.waitContainer(spec.id)).toEqual({ exitCode: 0, signal: null });
      execFileSync('chattr', ['+i', join(spec.upperDir!, 'stuck')]);
      // Set aside under a name of its own before REMOVE's answer, then deleted by a child of the keeper's.
      stuck = join(k.stateDir, `.removing-${basename(spec.stateDir)}`, 'upper', 'stuck');
      // Before, the failure came back as REMOVE's error (which Node's undo only logged); the container is gone either way.
      await k.removeContainer(spec.id);
      expect(existsSync(spec.stateDir)).toBe(false);
      const failed = () => lines.find((l) => l.includes(`remove state dir ${spec.stateDir}`));
      await until(() => failed() !== undefined, 5000).catch(() => undefined);
      expect(failed()).toMatch(/Operation not permitted/);
      expect(existsSync(stuck)).toBe(true);
    } finally {
      createDebug.log = saved.log;
      createDebug.enable(saved.namespaces);
      if (stuck && existsSync(stuck)) execFileSync('chattr', ['-i', stuck]);
      await k.close();
    }
    expect(existsSync(k.stateDir)).toBe(false);
  });

  it('sweeps the directories of dead keepers, not of live ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slipway-sweep-'));
    chmodSync(root, 0o700);
    const dead = join(root, 'keeper-999999999');
    mkdirSync(join(dead, 'c1', 'upper', 'deep'), { recursive: true });
    writeFileSync(join(dead, 'c1', 'upper', 'deep', 'f'), 'x');
    const first = await Keeper.start({ stateRoot: root });
    keepers.push(first);
    expect(existsSync(dead)).toBe(false);
    const second = await Keeper.start({ stateRoot: root });
    keepers.push(second);
    expect(existsSync(first.stateDir)).toBe(true);
    expect(readdirSync(root).sort()).toEqual([`keeper-${first.pid}`, `keeper-${second.pid}`].sort());
  });

  it.skipIf(process.getuid!() !== 0 || !existsSync('/sys/fs/cgroup/pids'))('removes the cgroups a dead keeper\'s containers listed, and only those', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slipway-sweep-cg-'));
    chmodSync(root, 0o700);
    // A keeper killed outright (and its Node with it): the empty cgroup of its container is left.
    const parent = '/sys/fs/cgroup/pids/slipway';
    mkdirSync(parent, { recursive: true });
    const leftover = join(parent, `sweep-test-${process.pid}-dead`);
    const unlisted = join(parent, `sweep-test-${process.pid}-unlisted`);
    mkdirSync(leftover);
    mkdirSync(unlisted);
    try {
      const dead = join(root, 'keeper-999999998');
      mkdirSync(join(dead, 'c1'), { recursive: true });
      writeFileSync(join(dead, 'c1', 'cgroups'), `${leftover}\n/sys/fs/cgroup/pids/not-ours\n${parent}/../escape\n`);
      const k = await Keeper.start({ stateRoot: root });
      keepers.push(k);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(leftover)).toBe(false);
      expect(existsSync(unlisted)).toBe(true); // another process's, maybe about to get its container
    } finally {
      for (const d of [leftover, unlisted]) if (existsSync(d)) rmdirSync(d);
    }
  });

  it('chownList applies ownership and setuid modes without following symlinks; rmtree removes it', async () => {
    const k = await Keeper.start();
    keepers.push(k);
    const dir = join(k.stateDir, 'layer');
    mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
    writeFileSync(join(dir, 'usr', 'bin', 'tool'), '#!/bin/sh\n');
    const outside = join(k.stateDir, 'outside');
    writeFileSync(outside, 'x');
    const { symlinkSync, statSync, lstatSync } = await import('node:fs');
    symlinkSync(outside, join(dir, 'link'));
    const list = join(k.stateDir, 'list');
    writeFileSync(list, ['usr/bin/tool', '1000', '1000', '4755', 'usr', '7', '8', '755', 'link', '33', '33', '777', ''].join('\0'));
    await k.chownList(dir, list);
    const tool = statSync(join(dir, 'usr', 'bin', 'tool'));
    expect([tool.uid, tool.gid, (tool.mode & 0o7777).toString(8)]).toEqual([hostId(k.mapping.uidMap, 1000), hostId(k.mapping.gidMap, 1000), '4755']);
    expect(statSync(join(dir, 'usr')).uid).toBe(hostId(k.mapping.uidMap, 7));
    expect(lstatSync(join(dir, 'link')).uid).toBe(hostId(k.mapping.uidMap, 33));
    expect(statSync(outside).uid).toBe(process.getuid!());

    writeFileSync(list, ['link/escape', '1', '1', '644', ''].join('\0'));
    await expect(k.chownList(dir, list)).rejects.toThrow(/chown link\/escape: open: ENOTDIR/);
    writeFileSync(list, ['../outside', '1', '1', '644', ''].join('\0'));
    await expect(k.chownList(dir, list)).rejects.toThrow(/EINVAL/);

    await k.rmtree(dir);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(outside)).toBe(true);
  });
});

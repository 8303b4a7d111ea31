import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { engineRuntime, fixtureRef, helperBuilt, isRoot, isSpareHelper, keeperRemovalsDone, outboundHelpersOf, nativeOnly, skipUnless, slipwayCgroupsOf, spawnTsChild, until, userNamespacesAllowed } from '../harness/index.js';


function alive(pid: number): boolean {
  try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); } catch { return false; }
}
/** Processes whose command line mentions `needle` (slirp4netns and pasta take the container pid as an argument). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv.includes(needle) && /slirp4netns|pasta|slipway/.test(argv.join(' '))) out.push(Number(p));
    } catch { /* gone */ }
  }
  return out;
}
function keeperChildren(pid: number): number[] {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('teardown through the public API', () => {
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
    it(`a Node process ended by ${signal} leaves no container process, network helper, port or directory`, async () => {
      const { child, info } = await spawnTsChild<{ keeperPid: number; keeperDir: string; initPids: number[]; port: number }>(
        join(import.meta.dirname, 'teardown-child.mts'), { TEARDOWN_REF: fixtureRef('busybox'), TEARDOWN_LIMIT: isRoot() ? '1' : '0' });
      // The containers' helpers (a prepared namespace's among them) and the keeper's spares (native/netpool.h).
      const spares = info.keeperPid > 0 ? keeperChildren(info.keeperPid).filter(isSpareHelper) : [];
      const helpers = [...new Set([...info.initPids.flatMap((p) => [...processesMentioning(String(p)), ...outboundHelpersOf(p).map((h) => h.pid)]), ...spares])];
      // As root the second container has limits: its cgroups must go too, even when Node cannot remove them.
      // (On an engine the cgroups are the engine's, and its watchdog removes the containers: no keeper, helper or dir.)
      const cgroups = engineRuntime() ? [] : info.initPids.flatMap(slipwayCgroupsOf);
      if (isRoot() && !engineRuntime()) expect(cgroups.length).toBeGreaterThan(0);
      expect(info.initPids.every(alive)).toBe(true);
      expect(await portClosed(info.port)).toBe(false);
      child.kill(signal);
      const ofChild = () => (engineRuntime() ? execFileSync('docker', ['ps', '-aq', '--filter', `label=org.slipway.pid=${child.pid}`], { encoding: 'utf8' }).trim() : '');
      const left = () => ({
        inits: info.initPids.filter(alive), helpers: helpers.filter(alive), keeper: info.keeperPid > 0 && alive(info.keeperPid), dir: info.keeperDir !== '' && existsSync(info.keeperDir),
        cgroups: cgroups.filter(existsSync), containers: ofChild(),
      });
      // The watchdog's docker removal of two containers takes longer than the keeper's kill.
      await until(() => { const l = left(); return !l.inits.length && !l.helpers.length && !l.keeper && !l.dir && !l.cgroups.length && !l.containers; }, engineRuntime() ? 30_000 : 3000)
        .catch((e: Error) => { throw new Error(`${e.message}: still there ${JSON.stringify(left())}`); });
      expect(await portClosed(info.port)).toBe(true);
    });
  }

  nativeOnly('it counts the keeper\'s fds, children, mounts and state dirs; an engine\'s leftovers are checked by failed-start and engine-only')('200 start/stop cycles leak no process, fd, mount or directory', async () => {
    const keeper = await Keeper.get();
    const fds = () => readdirSync(`/proc/${keeper.pid}/fd`).length;
    // The keeper's janitors (native/janitor.h) live as long as it does: every other child counts.
    const children = () => readFileSync(`/proc/${keeper.pid}/task/${keeper.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
      .filter((p) => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'slipway-janitor'; } catch { return true; } }).join(' ');
    // A dockerd on the same host (the engine pass, a developer's) mounts and unmounts its containers meanwhile: its
    // mounts are not ours. Every other mount counts.
    const mounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => !/ \/(var\/lib|run)\/docker\//.test(l)).length;
    const base = new Container(fixtureRef('busybox')).withCommand(['true']).withNetworkMode('none');
    await base.run(); // warm: image pulled, layers unpacked
    // Waits are generous (they end as soon as the condition holds): a loaded CI machine can take more than a second.
    await keeperRemovalsDone(keeper.stateDir);
    await until(() => children() === '', 10_000); // the warm-up container's last worker has exited
    const before = { fds: fds(), children: children(), mounts: mounts(), dirs: readdirSync(keeper.stateDir).sort() };
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) {
      const c = await base.start();
      await c.stop();
      await c.remove();
    }
    const perCycle = (Date.now() - t0) / 200;
    console.log(`200 start/stop/remove cycles: ${perCycle.toFixed(1)} ms per cycle`);
    const after = () => ({ fds: fds(), children: children(), mounts: mounts(), dirs: readdirSync(keeper.stateDir).sort() });
    // remove() resolves once the keeper has reaped the container; give its last short-lived workers (and the last
    // removed state dirs' deletion) a moment to end.
    await keeperRemovalsDone(keeper.stateDir);
    await until(() => JSON.stringify(after()) === JSON.stringify(before), 10_000).catch(() => undefined);
    expect(after()).toEqual(before);
  });
});

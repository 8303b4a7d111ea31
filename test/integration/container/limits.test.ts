import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { engineRuntime, fixtureRef, helperBuilt, isRoot, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const v1 = '/sys/fs/cgroup/memory';
const hasV1Memory = (() => { try { return readdirSync(v1).includes('memory.limit_in_bytes'); } catch { return false; } })();
const canRun = helperBuilt() && userNamespacesAllowed();

skipUnless(canRun && isRoot() && hasV1Memory, 'cgroup v1 limits need root and a v1 memory controller (this is how CI runs as root)')('resource limits (cgroup v1, real)', () => {
  it('applies memory, pids and cpu limits and reports an OOM kill on the stopped container', async () => {
    await using c = await new Container(fixtureRef('debian')).withMemory('32m').withPids(50).withCpus(0.5)
      .withCommand(['bash', '-c', 'cat /proc/self/cgroup; sleep 1000']).start();
    // On an engine the same limits are the engine's cgroup's (Docker's cgroupfs driver: /docker/<id>).
    const hostCgroup = readFileSync(`/proc/${c.pid}/cgroup`, 'utf8').match(engineRuntime() ? /memory:(\/docker\/[^\n]+)/ : /memory:(\/slipway\/[^\n]+)/)![1]!;
    expect(readFileSync(`${v1}${hostCgroup}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(32 * 1024 * 1024));
    expect(readFileSync(`/sys/fs/cgroup/pids${hostCgroup}/pids.max`, 'utf8').trim()).toBe('50');
    expect(readFileSync(`/sys/fs/cgroup/cpu${hostCgroup}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('50000');

    await using hog = await new Container(fixtureRef('debian')).withMemory('32m').withMemorySwap('32m')
      .withCommand(['bash', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived']).start();
    const exit = await hog.wait();
    expect(exit.oomKilled).toBe(true);
    expect(exit.signal).toBe('SIGKILL');
  });

  it('removes its cgroups with the container', async () => {
    const parent = `${v1}/${engineRuntime() ? 'docker' : 'slipway'}`;
    const before = readdirSync(parent).length;
    for (let i = 0; i < 10; i++) {
      const c = await new Container(fixtureRef('busybox')).withMemory('16m').withCommand(['true']).start();
      await c.wait();
      await c.remove();
    }
    expect(readdirSync(parent).length).toBe(before);
  });
});

skipUnless(canRun && !isRoot(), 'rootless behaviour of limits is checked when the suite runs as an unprivileged user')('resource limits (rootless)', () => {
  it('refuses a limit it cannot enforce, with the reason, unless best effort was asked', async () => {
    const env = readFileSync('/proc/self/mountinfo', 'utf8');
    const v2Delegated = / - cgroup2 /.test(env) && !hasV1Memory;
    if (v2Delegated) return; // a delegated v2 host can enforce it: nothing to refuse
    const err = await new Container(fixtureRef('busybox')).withMemory('64m').withCommand(['true']).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_CGROUP_UNAVAILABLE')).toBe(true);
    // The README's headline example uses withMemory: the hint names the builder method that starts it anyway.
    expect((err as SlipwayError).hint).toContain('withBestEffortLimits()');
    const r = await new Container(fixtureRef('busybox')).withMemory('64m').withBestEffortLimits().withCommand(['echo', 'ran']).run();
    expect(r.stdout).toBe('ran\n');
  });
});

/**
 * Plays the attacker: a container that joined no user network tries to reach the user-network range
 * (10.89.0.0/16). Without an `unreachable` route such a connect takes eth0's default route and
 * slirp4netns/pasta try it on the host's network (out of the machine). Nothing here sends a packet
 * that could leave: the routing table is asked (`ip route get` sends nothing), and the one connect is
 * made only when the unreachable route is already in place.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { USER_NETWORKS_CIDR } from '../../../src/runtime/keeper/keeper-network.js';
import { detectNetworkTools, startOutbound } from '../../../src/runtime/network/index.js';
import { fixtureRef, helperBuilt, skipUnless, tunUsable, userNamespacesAllowed } from '../harness/index.js';
import { busyboxRootfs, specFor } from '../keeper/fixture.js';

const canRun = helperBuilt() && userNamespacesAllowed();
const tools = await detectNetworkTools();
const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;

/** Prints the table, asks it about two user-network addresses, then connects only if the route that keeps it inside is there. */
const PROBE = [
  'ip route',
  'ip route get 10.89.5.9 2>&1',
  'ip route get 10.89.0.1 2>&1',
  `if ip route | grep -q '^unreachable 10.89.0.0/16'; then nc -w 1 10.89.5.9 80 </dev/null 2>&1; echo "nc=$?"; fi`,
].join('; ');

function expectContained(out: string): void {
  expect(out).toMatch(/^unreachable 10\.89\.0\.0\/16/m);
  expect(out).not.toMatch(/10\.89\.\d+\.\d+ via /);
  expect(out).toMatch(/No route to host/);
  expect(out).toMatch(/nc=1/);
}

skipUnless(canRun, `the native helper is not built or user namespaces are unavailable (${who})`)(`user-network range from a container on no network (${who})`, () => {
  it('is unreachable at once from an isolated container that joined no network, with its outbound default route in place', async () => {
    const r = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', PROBE]).run();
    if (tools.slirp4netns || tools.pasta) expect(r.stdout).toMatch(/^default via 10\.0\.2\.2 dev eth0/m);
    expectContained(r.stdout);
  });

  it('is not added in "none" or "host" mode (nothing of ours to route there)', async () => {
    const r = await new Container(fixtureRef('busybox')).withNetworkMode('none').withCommand(['sh', '-c', 'ip route']).run();
    expect(r.stdout).toBe(''); // loopback only: 10.89.x.y is unreachable anyway (ENETUNREACH)
  });
});

for (const tool of ['slirp4netns', 'pasta'] as const) {
  skipUnless(canRun && tools[tool] !== undefined && tunUsable(), `${tool} missing or /dev/net/tun unusable (${who})`)(`the route survives ${tool}'s configuration (${who})`, () => {
    let keeper: Keeper;
    beforeAll(async () => {
      busyboxRootfs();
      keeper = await Keeper.start();
    });
    afterAll(async () => { await keeper?.close(); });

    it(`keeps ${USER_NETWORKS_CIDR} unreachable after ${tool} set up eth0 and its default route`, async () => {
      const spec = specFor(keeper, ['/bin/sh', '-c', PROBE], { netMode: 'isolated', tap: 'eth0', unreachable: [USER_NETWORKS_CIDR] });
      const { pid } = await keeper.createContainer(spec);
      const net = await startOutbound(pid, { hostLoopback: false, prefer: tool, tools: { [tool]: tools[tool] } });
      try {
        expect(net?.tool).toBe(tool);
        await keeper.startContainer(spec.id);
        expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: 0, signal: null });
        const { readFile } = await import('node:fs/promises');
        const log = (await readFile(spec.logPath!, 'utf8')).split('\n').map((l) => l.split(' ').slice(3).join(' ')).join('\n');
        expect(log).toMatch(/^default via 10\.0\.2\.2 dev eth0/m);
        expectContained(log);
      } finally {
        await net?.close();
        await keeper.removeContainer(spec.id);
      }
    });
  });
}

/**
 * Plays a container that floods its host access: it opens connection after connection to host.slipway.internal and
 * holds them. The keeper relays each one with descriptors of its own (the accepted socket, a socket to the host's
 * port, pipes), and it is the one process that runs every container of the test process: a keeper out of descriptors
 * can create no container, run no exec and copy no file for anyone. The keeper's descriptor limit is lowered here
 * (prlimit on its pid) so that a thousand connections reach it; the default limit only takes longer.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, hasCommand, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const held = new Set<Socket>();
const server = createServer((s) => { held.add(s); s.on('error', () => {}); s.on('close', () => held.delete(s)); s.resume(); s.write('hi\n'); });
let port = 0;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => server.close(r));
});

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;

skipUnless(helperBuilt() && userNamespacesAllowed() && hasCommand('prlimit'), `the native helper is not built, user namespaces are unavailable or prlimit is missing (${who})`)(`security: host access flood (${who})`, () => {
  nativeOnly('the keeper relays host access natively; the engine has no keeper')('a container holding hundreds of host-access connections leaves the keeper able to run, relay and copy for the others', async () => {
    await using flooder = await new Container(fixtureRef('debian')).withHostAccess(port).withCommand(['sleep', '1000']).start();
    const keeper = await Keeper.get();
    // The keeper's workers move their descriptors above 1000, so it needs a limit past that to work at all.
    const limit = Math.max(1400, openFds(keeper.pid) + 600);
    execFileSync('prlimit', [`--pid=${keeper.pid}`, `--nofile=${limit}:${limit}`]);
    // One bash opens 1000 connections and holds those that open (bash's /dev/tcp), in the background after the exec.
    const flood = `for i in $(seq 1000); do eval "exec {fd}<>/dev/tcp/host.slipway.internal/${port}" 2>/dev/null; done; touch /tmp/done; sleep 1000`;
    await flooder.exec(['bash', '-c', `(${flood}) >/dev/null 2>&1 </dev/null &`]);
    // The old keeper ran out of descriptors: the flood hung in connect and no exec could run any more.
    await eventually(async () => (await flooder.exec(['test', '-e', '/tmp/done'])).exitCode === 0, 30_000, 'the flood to end');
    // The keeper relayed part of the flood (its share of the descriptors: 87 of 1000 at a limit of 1400) and reset the rest.
    expect(held.size).toBeGreaterThan(0);
    expect(held.size).toBeLessThan(1000);
    expect(openFds(keeper.pid)).toBeLessThan(limit - 100);
    // Others are unharmed: a new container starts with a file copied in, execs run, and its own host access connects.
    await using other = await new Container(fixtureRef('debian')).withHostAccess(port).withFile('/tmp/f', 'kept\n').withCommand(['sleep', '1000']).start();
    expect((await other.exec(['cat', '/tmp/f'])).stdout).toBe('kept\n');
    // (The host's greeting comes back only through the keeper's relay: the container's side of the handshake is init's.)
    expect((await other.exec(['bash', '-c', `exec 3<>/dev/tcp/host.slipway.internal/${port} && read -t 5 line <&3; echo "$line"`])).stdout).toBe('hi\n');
    expect((await flooder.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });
});

/** Polls an async check every 100 ms until it holds. */
async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

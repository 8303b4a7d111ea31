/**
 * Plays the attacker against host access. The test runs two loopback services on the host: A (the one it names) and
 * B (any other service of the machine: a database, a registry, another container's published port). A container given
 * host access to A must reach A as host.slipway.internal and nothing else of the host's loopback: not B by name, not
 * A or B through the outbound gateway 10.0.2.2. Only loopback and the containers' own namespaces are used: 10.0.2.2 is
 * dialled only when slirp4netns serves the container (it answers for that address itself; pasta --no-map-gw would send
 * it to the host's network), and 169.254.1.2 only where it is the container's own address.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container, Network, SlipwayError } from '../../../src/index.js';
import { GenericContainer, TestContainers } from '../../../src/testcontainers.js';
import { fixtureRef, hasCommand, helperBuilt, outboundHelpersOf, skipUnless, tunUsable, userNamespacesAllowed } from '../harness/index.js';

const canRun = helperBuilt() && userNamespacesAllowed();
const hasOutbound = (hasCommand('slirp4netns') || hasCommand('pasta')) && tunUsable();
const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;

interface Service { server: Server; port: number; seen: number }
async function service(reply: string): Promise<Service> {
  const s: Service = { server: createServer((c) => { s.seen++; c.end(`${reply}\n`); }), port: 0, seen: 0 };
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  s.port = (s.server.address() as AddressInfo).port;
  return s;
}

let a: Service;
let b: Service;
beforeAll(async () => { a = await service('from-A'); b = await service('from-B'); });
afterAll(async () => { for (const s of [a, b]) await new Promise((r) => s?.server.close(r)); });

/** Whether nothing listens on 127.0.0.1:`port` (a bind there succeeds). */
async function freeOnIpv4Loopback(port: number): Promise<boolean> {
  const probe = createServer();
  const ok = await new Promise<boolean>((r) => { probe.once('error', () => r(false)); probe.listen(port, '127.0.0.1', () => r(true)); });
  if (ok) await new Promise((r) => probe.close(r));
  return ok;
}

/** Which outbound helper serves the container whose init is `pid` (its pid in the argv, or its prepared namespace). */
const outboundToolOf = (pid: number): 'slirp4netns' | 'pasta' | undefined => outboundHelpersOf(pid)[0]?.tool;

/** `nc` one port; prints the reply or `refused(<port>)`. */
const dial = (host: string, port: number) => `nc -w 2 ${host} ${port} </dev/null 2>/dev/null || echo "refused(${host}:${port})"`;

skipUnless(canRun, `the native helper is not built or user namespaces are unavailable (${who})`)(`host access (${who})`, () => {
  it('reaches only the named host port (A by host.slipway.internal; not B, not 10.0.2.2); a neighbour without access reaches nothing, not even by routing to the granted one', async () => {
    const [seenA, seenB] = [a.seen, b.seen];
    await using net = await Network.create();
    await using victim = await new Container(fixtureRef('busybox')).withHostAccess(a.port).withNetwork(net).withCommand(['sleep', '1000']).start();
    const hosts = await victim.exec(['cat', '/etc/hosts']);
    expect(hosts.stdout).toMatch(/^169\.254\.1\.2\thost\.slipway\.internal host\.containers\.internal host\.docker\.internal$/m);
    const r = await victim.exec(['sh', '-c', [dial('host.slipway.internal', a.port), dial('host.slipway.internal', b.port), dial('169.254.1.2', b.port)].join('; ')]);
    expect(r.stdout).toBe(`from-A\nrefused(host.slipway.internal:${b.port})\nrefused(169.254.1.2:${b.port})\n`);
    if (outboundToolOf(victim.pid) === 'slirp4netns') {
      const gw = await victim.exec(['sh', '-c', [dial('10.0.2.2', a.port), dial('10.0.2.2', b.port)].join('; ')]);
      expect(gw.stdout).toBe(`refused(10.0.2.2:${a.port})\nrefused(10.0.2.2:${b.port})\n`);
    }
    expect([a.seen, b.seen]).toEqual([seenA + 1, seenB]);

    // The neighbour: no host access, NET_ADMIN to route 169.254.1.2 to the victim over their shared user network (the
    // route covers that one address through the two containers' own bridge: nothing leaves their namespaces).
    await using attacker = await new Container(fixtureRef('busybox')).withAddedCapabilities('NET_ADMIN').withNetwork(net).withCommand(['sleep', '1000']).start();
    expect((await attacker.exec(['cat', '/etc/hosts'])).stdout).not.toContain('host.slipway.internal');
    expect((await attacker.exec(['ip', '-4', 'addr', 'show', 'lo'])).stdout).not.toContain('169.254.1.2');
    if (outboundToolOf(attacker.pid) === 'slirp4netns') {
      const gw = await attacker.exec(['sh', '-c', [dial('10.0.2.2', a.port), dial('10.0.2.2', b.port)].join('; ')]);
      expect(gw.stdout).toBe(`refused(10.0.2.2:${a.port})\nrefused(10.0.2.2:${b.port})\n`);
    }
    const victimIp = (await victim.exec(['sh', '-c', "ip -4 -o addr show eth1 | sed -n 's/.*inet \\([0-9.]*\\).*/\\1/p'"])).stdout.trim();
    expect(victimIp).toMatch(/^10\.89\.\d+\.\d+$/);
    const borrow = await attacker.exec(['sh', '-c', `ip route add 169.254.1.2/32 via ${victimIp} dev eth1 && ip route get 169.254.1.2 && ${dial('169.254.1.2', a.port)}`]);
    expect(borrow.stdout).toMatch(new RegExp(`169\\.254\\.1\\.2 via ${victimIp.replace(/\./g, '\\.')} dev eth1`));
    expect(borrow.stdout).toContain(`refused(169.254.1.2:${a.port})`);
    expect([a.seen, b.seen]).toEqual([seenA + 1, seenB]);
  });

  it('relays many connections both ways, and again after a restart', async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const port = (echo.address() as AddressInfo).port;
    try {
      await using c = await new Container(fixtureRef('busybox')).withHostAccess({ ports: [port] }).withCommand(['sleep', '1000']).start();
      const script = `for i in $(seq 20); do echo "ping-$i" | nc -w 2 host.slipway.internal ${port} & done; wait`;
      const r = await c.exec(['sh', '-c', script]);
      expect(r.stdout.trim().split('\n').sort()).toEqual(Array.from({ length: 20 }, (_, i) => `ping-${i + 1}`).sort());
      await c.restart({ timeout: 1000 });
      // Through the keeper's relay (169.254.1.2 on the new namespace's lo), not the gateway.
      expect((await c.exec(['cat', '/etc/hosts'])).stdout).toMatch(/^169\.254\.1\.2\thost\.slipway\.internal /m);
      expect((await c.exec(['sh', '-c', `echo again | nc -w 2 host.slipway.internal ${port}`])).stdout).toBe('again\n');
    } finally {
      echo.close();
    }
  });

  it('falls back to the host\'s [::1] when 127.0.0.1 refuses (a server on "localhost" often has ::1 only)', async (ctx) => {
    // The fallback is taken only when 127.0.0.1:<port> refuses: a port free on ::1 may be taken on 127.0.0.1 by
    // another test or program on the machine (a CI run read its 'x' once), so pick one free on both.
    let v6: Server | undefined;
    let port = 0;
    for (let attempt = 0; attempt < 20 && !v6; attempt++) {
      const s = createServer((c) => c.end('from-v6\n'));
      const ok = await new Promise<boolean>((r) => { s.once('error', () => r(false)); s.listen(0, '::1', () => r(true)); });
      if (!ok) return ctx.skip(); // no IPv6 loopback on this host
      port = (s.address() as AddressInfo).port;
      if (await freeOnIpv4Loopback(port)) v6 = s;
      else await new Promise((r) => s.close(r));
    }
    if (!v6) throw new Error('no port free on both ::1 and 127.0.0.1 in 20 tries');
    try {
      await using c = await new Container(fixtureRef('busybox')).withHostAccess(port).withCommand(['sleep', '1000']).start();
      expect((await c.exec(['sh', '-c', dial('host.slipway.internal', port)])).stdout).toBe('from-v6\n');
    } finally {
      await new Promise((r) => v6?.close(r));
    }
  });

  it('TestContainers.exposeHostPorts: host.testcontainers.internal reaches the exposed port only', async () => {
    await TestContainers.exposeHostPorts(a.port);
    const seenB = b.seen;
    const c = await new GenericContainer(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    try {
      const r = await c.exec(['sh', '-c', [dial('host.testcontainers.internal', a.port), dial('host.testcontainers.internal', b.port)].join('; ')]);
      expect(r.stdout).toBe(`from-A\nrefused(host.testcontainers.internal:${b.port})\n`);
      expect(b.seen).toBe(seenB);
    } finally {
      await c.stop();
    }
    await expect(TestContainers.exposeHostPorts(0)).rejects.toThrow(/exposeHostPorts port/);
  });

  it('rejects host access in "none" mode with a clear error', async () => {
    const err = await new Container(fixtureRef('busybox')).withNetworkMode('none').withHostAccess(a.port).withCommand(['true']).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/network mode is "none"/);
  });
});

skipUnless(canRun && hasOutbound, `slirp4netns/pasta missing or /dev/net/tun unusable (${who})`)(`host access to every loopback port (${who})`, () => {
  it('is given only when asked by its name: withHostAccess() alone throws; { unsafeAllLoopbackPorts: true } reaches B through the gateway', async () => {
    const bare = new Container(fixtureRef('busybox')) as unknown as { withHostAccess(...a: unknown[]): Container };
    for (const args of [[], [true], [0], [65536], [1.5], ['80'], [{ ports: [22], all: true }]]) {
      expect(() => bare.withHostAccess(...args), JSON.stringify(args)).toThrow(SlipwayError);
    }
    const seenB = b.seen;
    await using c = await new Container(fixtureRef('busybox')).withHostAccess({ unsafeAllLoopbackPorts: true }).withCommand(['sleep', '1000']).start();
    expect((await c.exec(['cat', '/etc/hosts'])).stdout).toMatch(/^10\.0\.2\.2\thost\.slipway\.internal /m);
    const r = await c.exec(['sh', '-c', dial('host.slipway.internal', b.port)]);
    expect(r.stdout).toBe('from-B\n');
    expect(b.seen).toBe(seenB + 1);
  });
});

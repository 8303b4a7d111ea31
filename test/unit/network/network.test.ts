import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import {
  GUEST_NET, hostsFileFor, pastaArgs, resolvConfFor, slirp4netnsArgs, startOutbound, detectNetworkTools, type OutboundNet,
} from '../../../src/runtime/network/index.js';

const fakeNet: OutboundNet = {
  tool: 'slirp4netns', pid: 1, ifname: 'eth0', mtu: 65520, startMs: 1, guestIp: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3',
  hostLoopbackAlias: '10.0.2.2', close: async () => {},
};

describe('slirp4netnsArgs', () => {
  it('configures, sets the MTU, blocks the host loopback unless asked, and passes ready/exit fds', () => {
    expect(slirp4netnsArgs(42, { hostLoopback: false, mtu: 65520, ifname: 'eth0' })).toEqual([
      '--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '-r', '3', '-e', '4', '42', 'eth0',
    ]);
    const withHost = slirp4netnsArgs(42, { hostLoopback: true, mtu: 1500, ifname: 'tap0', sandbox: false });
    expect(withHost).not.toContain('--disable-host-loopback');
    expect(withHost).not.toContain('--enable-sandbox');
    expect(withHost).toContain('--mtu=1500');
    expect(withHost.slice(-2)).toEqual(['42', 'tap0']);
  });
});

describe('pastaArgs', () => {
  const base = { mtu: 65520, ifname: 'eth0', pidFile: '/tmp/x/pid' };
  it('uses slipway addressing, no port forwarding, foreground, and the PID form', () => {
    const a = pastaArgs(42, { ...base, hostLoopback: true, root: false });
    expect(a).toEqual(expect.arrayContaining(['--config-net', '-f', '-4', '--dns-forward', GUEST_NET.dns]));
    const pairs = (flag: string) => a[a.indexOf(flag) + 1];
    expect([pairs('-a'), pairs('-n'), pairs('-g'), pairs('-m'), pairs('-I'), pairs('-P')]).toEqual(['10.0.2.100', '24', '10.0.2.2', '65520', 'eth0', '/tmp/x/pid']);
    for (const f of ['-t', '-u', '-T', '-U']) expect(pairs(f)).toBe('none');
    expect(a).not.toContain('--no-map-gw');
    expect(a).not.toContain('--runas');
    expect(a.at(-1)).toBe('42');
  });
  it('without host access does not map the gateway to the host; as root keeps root', () => {
    const a = pastaArgs(7, { ...base, hostLoopback: false, root: true });
    expect(a).toContain('--no-map-gw');
    expect(a[a.indexOf('--runas') + 1]).toBe('0');
  });
});

describe('startOutbound', () => {
  it('returns undefined when neither tool is installed', async () => {
    expect(await startOutbound(1, { hostLoopback: true, tools: {} })).toBeUndefined();
  });
  it.each([
    [{ pid: 0 }, /invalid pid/], [{ pid: 1.5 }, /invalid pid/], [{ mtu: 100 }, /invalid mtu/], [{ mtu: 70000 }, /invalid mtu/],
    [{ ifname: 'a/b' }, /invalid ifname/], [{ ifname: 'x'.repeat(16) }, /invalid ifname/], [{ prefer: 'vpnkit' }, /invalid prefer/],
  ])('rejects %j', async (bad, re) => {
    const { pid = 1, ...rest } = bad as { pid?: number };
    const err = await startOutbound(pid, { hostLoopback: false, tools: {}, ...(rest as object) }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(re);
  });
  it('reports a helper that cannot be spawned as ERR_NETWORK', async () => {
    const err = await startOutbound(1, { hostLoopback: false, tools: { slirp4netns: '/nonexistent/slirp4netns' } }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_NETWORK')).toBe(true);
    expect((err as Error).message).toContain('spawn failed');
  });
  it('an already aborted signal rejects before anything runs', async () => {
    await expect(startOutbound(1, { hostLoopback: false, tools: {}, signal: AbortSignal.abort() })).rejects.toThrow();
  });
});

describe('detectNetworkTools', () => {
  it('finds nothing on an empty search path except the standard dirs', async () => {
    const found = await detectNetworkTools('/nonexistent');
    for (const p of Object.values(found)) expect(p).toMatch(/^\/(usr\/)?(local\/)?s?bin\//);
  });
});

describe('resolvConfFor', () => {
  it('points at the helper DNS forwarder and keeps search/options', () => {
    expect(resolvConfFor(fakeNet, 'domain corp.test\nsearch a.test b.test\nnameserver 127.0.0.53\noptions ndots:2 edns0\n# x\n'))
      .toBe('domain corp.test\nsearch a.test b.test\noptions ndots:2 edns0\nnameserver 10.0.2.3\n');
  });
  it('without a helper has no nameserver and says why', () => {
    const text = resolvConfFor(undefined, 'nameserver 8.8.8.8\n');
    expect(text).not.toContain('nameserver 8.8.8.8');
    expect(text).toMatch(/^# slipway: no outbound network/);
  });
});

describe('hostsFileFor', () => {
  it('has localhost, the hostname and no host aliases by default', () => {
    const text = hostsFileFor({ hostname: 'db' });
    expect(text).toContain('127.0.0.1\tlocalhost\n');
    expect(text).toContain('::1\tlocalhost ip6-localhost ip6-loopback\n');
    expect(text).toContain('127.0.1.1\tdb\n');
    expect(text).not.toContain('internal');
  });
  it('adds host.slipway.internal and friends with host access, FQDN short names, and extra hosts', () => {
    const text = hostsFileFor({ hostname: 'web.example.test', ownIp: '10.0.2.100', hostAccessIp: '10.0.2.2', extraHosts: { 'api.test': '192.0.2.5' } });
    expect(text).toContain('10.0.2.100\tweb.example.test web\n');
    expect(text).toContain('10.0.2.2\thost.slipway.internal host.containers.internal host.docker.internal\n');
    expect(text.endsWith('192.0.2.5\tapi.test\n')).toBe(true);
    expect(hostsFileFor({ hostname: 'a', extraHosts: [['b', '::1']] })).toContain('::1\tb\n');
  });
  it('adds extra host aliases (host.testcontainers.internal) on the host access line only', () => {
    expect(hostsFileFor({ hostname: 'a', hostAccessIp: '169.254.1.2', hostAliases: ['host.testcontainers.internal', 'host.docker.internal'] }))
      .toContain('169.254.1.2\thost.slipway.internal host.containers.internal host.docker.internal host.testcontainers.internal\n');
    expect(hostsFileFor({ hostname: 'a', hostAliases: ['host.testcontainers.internal'] })).not.toContain('internal');
    expect(() => hostsFileFor({ hostname: 'a', hostAccessIp: '169.254.1.2', hostAliases: ['bad name'] })).toThrow(/invalid hostAliases/);
  });
  it.each([
    [{ hostname: 'bad host' }, /invalid hostname/], [{ hostname: '-x' }, /invalid hostname/],
    [{ hostname: 'a', hostAccessIp: '10.0.2' }, /invalid hostAccessIp/], [{ hostname: 'a', extraHosts: { 'x y': '1.2.3.4' } }, /invalid extraHosts/],
    [{ hostname: 'a', extraHosts: { x: '999.1.1.1' } }, /invalid extraHosts\[x\]/],
  ])('rejects %j', (opts, re) => {
    expect(() => hostsFileFor(opts as Parameters<typeof hostsFileFor>[0])).toThrow(re);
  });
});

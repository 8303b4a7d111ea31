/**
 * Real slirp4netns/pasta against a user+net namespace made like the keeper's. All traffic stays on this machine:
 * the only servers are the test's own on 127.0.0.1, reached from the namespace through the host-loopback mapping.
 * Nothing is sent to a non-loopback address (so "no host access" is asserted for slirp4netns only: with pasta
 * --no-map-gw, a connection to 10.0.2.2 would leave the machine).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { detectNetworkTools, resolvConfFor, startOutbound, type OutboundNet } from '../../../src/runtime/network/index.js';
import { hasCommand, skipUnless, testUnless, tunUsable, userNamespacesAllowed } from '../harness/index.js';
import { alive, createNamespace, inNs, nodeInNs, startDnsServer, type TestNamespace } from './netns.js';

const exec = promisify(execFile);
const tools = await detectNetworkTools();
const canRun = tunUsable() && userNamespacesAllowed() && hasCommand('unshare') && hasCommand('nsenter');
const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;

let server: Server;
let serverPort = 0;
const seen: string[] = [];
beforeAll(async () => {
  server = createServer((s) => { seen.push(s.remoteAddress ?? '?'); s.end(`hello from the host loopback\n`); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined); });

async function setup(tool: 'slirp4netns' | 'pasta', hostLoopback: boolean): Promise<{ ns: TestNamespace; net: OutboundNet }> {
  const ns = await createNamespace();
  cleanup.push(() => ns.kill());
  const net = (await startOutbound(ns.pid, { hostLoopback, prefer: tool, tools: { [tool]: tools[tool] } }))!;
  cleanup.push(() => net.close());
  return { ns, net };
}

const connectScript = (host: string, port: number) => `
  const s = require('net').connect(${port}, '${host}'); let d = ''; s.setTimeout(3000, () => { console.log('TIMEOUT'); process.exit(3); });
  s.on('data', (b) => d += b); s.on('end', () => { console.log('GOT ' + d.trim()); process.exit(0); });
  s.on('error', (e) => { console.log('ERR ' + e.code); process.exit(2); });`;

for (const tool of ['slirp4netns', 'pasta'] as const) {
  skipUnless(canRun && tools[tool] !== undefined, `${tool} tests need ${tool}, a usable /dev/net/tun and user namespaces (${who})`)(`${tool} as ${who}`, () => {
    it('configures eth0 10.0.2.100/24 via 10.0.2.2 with MTU 65520 and reaches the host loopback with host access', async () => {
      const { ns, net } = await setup(tool, true);
      expect(net).toMatchObject({ tool, guestIp: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3', hostLoopbackAlias: '10.0.2.2', ifname: 'eth0', mtu: 65520 });
      const addr = await inNs(ns.pid, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(addr.stdout).toContain('inet 10.0.2.100/24');
      expect((await inNs(ns.pid, ['ip', 'route'])).stdout).toMatch(/default via 10\.0\.2\.2 dev eth0/);
      // (not /sys/class/net: nsenter keeps the host's sysfs mount, which shows the host's interfaces)
      expect((await inNs(ns.pid, ['ip', '-o', 'link', 'show', 'dev', 'eth0'])).stdout).toMatch(/ mtu 65520 /);
      const before = seen.length;
      const r = await nodeInNs(ns.pid, connectScript('10.0.2.2', serverPort));
      expect(r.stdout.trim()).toBe('GOT hello from the host loopback');
      expect(seen.slice(before)).toEqual(['127.0.0.1']);
    });

    it('answers DNS from a resolver on the host loopback through host access (UDP)', async () => {
      const dns = await startDnsServer({ 'probe.slipway.test': '192.0.2.77' });
      cleanup.push(() => dns.close());
      const { ns, net } = await setup(tool, true);
      const r = await nodeInNs(ns.pid, `
        const { Resolver } = require('dns').promises; const res = new Resolver({ timeout: 2000, tries: 1 });
        res.setServers(['${net.hostLoopbackAlias}:${dns.port}']);
        res.resolve4('probe.slipway.test').then((a) => console.log(a.join(',')), (e) => console.log('ERR ' + e.code));`);
      expect(r.stdout.trim()).toBe('192.0.2.77');
      expect(dns.queries).toContain('probe.slipway.test');
      expect(resolvConfFor(net, 'search example.test\nnameserver 127.0.0.53\n')).toBe('search example.test\nnameserver 10.0.2.3\n');
    });

    it('close() stops the helper and removes eth0; close() again is a no-op', async () => {
      const { ns, net } = await setup(tool, true);
      expect(await alive(net.pid)).toBe(true);
      await net.close();
      await net.close();
      expect(await alive(net.pid)).toBe(false);
      expect((await inNs(ns.pid, ['ip', '-o', 'link'])).stdout).not.toContain('eth0');
    });

    it('the helper dies when the Node process that started it is SIGKILLed', async () => {
      const ns = await createNamespace();
      cleanup.push(() => ns.kill());
      const out = await compiledModule();
      const child = spawn(process.execPath, ['--input-type=module', '-e', `
        const { startOutbound } = await import(${JSON.stringify(join(out, 'runtime/network/index.js'))});
        const net = await startOutbound(${ns.pid}, { hostLoopback: false, prefer: '${tool}', tools: ${JSON.stringify({ [tool]: tools[tool] })} });
        console.log('PID ' + net.pid); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const helperPid = await new Promise<number>((resolve, reject) => {
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => { buf += d; const m = /PID (\d+)/.exec(buf); if (m) resolve(Number(m[1])); });
        child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
      });
      expect(await alive(helperPid)).toBe(true);
      expect((await inNs(ns.pid, ['ip', '-o', 'link'])).stdout).toContain('eth0');
      child.kill('SIGKILL');
      let gone = false;
      for (let i = 0; i < 100 && !gone; i++) { await new Promise((r) => setTimeout(r, 20)); gone = !(await alive(helperPid)); }
      expect(gone).toBe(true);
    });

    it('fails with ERR_NETWORK and the helper\'s stderr when the target process is gone', async () => {
      const ns = await createNamespace();
      const pid = ns.pid;
      await ns.kill();
      const err = await startOutbound(pid, { hostLoopback: false, tools: { [tool]: tools[tool] }, timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_NETWORK')).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`${tool} exited .* before it could configure eth0 in the namespace of pid ${pid}`));
      expect((err as Error).message).toContain(`${tool} said:`);
    });

    it('honours an AbortSignal', async () => {
      const ns = await createNamespace();
      cleanup.push(() => ns.kill());
      const ac = new AbortController();
      ac.abort(new Error('test'));
      await expect(startOutbound(ns.pid, { hostLoopback: false, tools: { [tool]: tools[tool] }, signal: ac.signal })).rejects.toThrow();
      const p = startOutbound(ns.pid, { hostLoopback: false, tools: { [tool]: tools[tool] }, signal: AbortSignal.timeout(1) });
      const r = await p.then((n) => { cleanup.push(() => n!.close()); return 'started'; }, (e: unknown) => (SlipwayError.is(e, 'ERR_ABORTED') ? 'aborted' : String(e)));
      expect(['started', 'aborted']).toContain(r);
    });

    it(`start latency, median of 20 (${tool})`, async () => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const ns = await createNamespace();
        const t0 = performance.now();
        const net = (await startOutbound(ns.pid, { hostLoopback: false, prefer: tool, tools: { [tool]: tools[tool] } }))!;
        times.push(performance.now() - t0);
        await net.close();
        await ns.kill();
      }
      times.sort((a, b) => a - b);
      const median = (times[9]! + times[10]!) / 2;
      console.log(`[bench] ${tool} as ${who}: start median ${median.toFixed(1)} ms, min ${times[0]!.toFixed(1)}, max ${times[19]!.toFixed(1)} (n=20)`);
      expect(median).toBeLessThan(2000);
    });
  });
}

skipUnless(canRun && tools.slirp4netns !== undefined, `slirp4netns needed (${who})`)(`slirp4netns without host access as ${who}`, () => {
  it('cannot reach the host loopback (--disable-host-loopback), and the server sees nothing', async () => {
    const { ns, net } = await setup('slirp4netns', false);
    expect(net.hostLoopbackAlias).toBeUndefined();
    const before = seen.length;
    const r = await nodeInNs(ns.pid, connectScript('10.0.2.2', serverPort));
    expect(r.stdout.trim()).toMatch(/^(ERR ECONNREFUSED|ERR ECONNRESET|ERR ENETUNREACH|ERR EHOSTUNREACH|TIMEOUT)$/);
    expect(seen.length).toBe(before);
  });
});

let compiled: Promise<string> | undefined;
afterAll(async () => { if (compiled) await rm(await compiled, { recursive: true, force: true }); });
/** The network module compiled to JS (a child Node process cannot import the TS sources directly). */
function compiledModule(): Promise<string> {
  compiled ??= (async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const out = await mkdtemp(join(here, '.build-'));
    const repo = join(here, '../../..');
    await exec(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '--outDir', out, '--rootDir', join(repo, 'src'),
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node',
      join(repo, 'src/runtime/network/index.ts')], { cwd: repo });
    return out;
  })();
  return compiled;
}

skipUnless(canRun && hasCommand('ip'), `needs user namespaces, /dev/net/tun and iproute2 (${who})`)(`DNS forwarder and no-host-access in a sandboxed fake host as ${who}`, () => {
  for (const tool of ['slirp4netns', 'pasta'] as const) {
    testUnless(tools[tool] !== undefined, `${tool} is not installed`)(`${tool}: 10.0.2.3 forwards to the host's resolver; without host access 10.0.2.2 is not the host`, async () => {
      const out = await compiledModule();
      const script = join(dirname(fileURLToPath(import.meta.url)), 'sandboxed-host.mjs');
      const { stdout } = await exec('unshare', ['--user', '--map-root-user', '--net', '--mount', process.execPath, script,
        join(out, 'runtime/network/index.js'), tool, tools[tool]!], { timeout: 60_000 });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, { connect: string; dns: string; tcpSeen: string[]; tool: string; error?: string }> & { dnsQueries: string[] };
      expect(r.hostLoopback!.error).toBeUndefined();
      expect(r.hostLoopback!.tool).toBe(tool);
      expect(r.hostLoopback!.connect).toBe('GOT hello');
      expect(r.hostLoopback!.tcpSeen).toEqual(['127.0.0.1']);
      expect(r.hostLoopback!.dns).toBe('192.0.2.77');
      expect(r.noHostAccess!.error).toBeUndefined();
      expect(r.noHostAccess!.connect).not.toBe('GOT hello');
      expect(r.noHostAccess!.tcpSeen).toEqual([]);
      expect(r.noHostAccess!.dns).toBe('192.0.2.77');
      expect(r.dnsQueries.filter((q) => q === 'probe.slipway.test').length).toBeGreaterThanOrEqual(2);
    });
  }
});

// Docker's data-root is a shared bind mount: a sandboxed slirp4netns started by root used to copy it as a peer and,
// unmounting its old root, unmount the host's overlay mounts below it (plain `docker run` then failed on this VM).
testUnless(canRun && process.getuid?.() === 0 && tools.slirp4netns !== undefined, 'the shared-mount test needs root, slirp4netns, tun and user namespaces')(
  'slirp4netns as root leaves the host mounts below a shared mount alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-shared-'));
    const child = join(dir, 'child');
    await exec('mount', ['--bind', dir, dir]);
    try {
      await exec('mount', ['--make-shared', dir]);
      await exec('mkdir', ['-p', child]);
      await exec('mount', ['-t', 'tmpfs', 'slipway-canary', child]);
      const mounted = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === child);
      expect(await mounted()).toBe(true);
      const { net } = await setup('slirp4netns', false);
      expect(net.tool).toBe('slirp4netns');
      expect(await mounted()).toBe(true);
    } finally {
      await exec('umount', ['-R', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

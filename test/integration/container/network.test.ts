import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Container, SlipwayError, Wait } from '../../../src/index.js';
import { readFileSync } from 'node:fs';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, hasCommand, helperBuilt, keeperHasReadySpare, nativeOnly, netnsOf, outboundHelpersOf, skipUnless, until, userNamespacesAllowed, tunUsable } from '../harness/index.js';



const canRun = helperBuilt() && userNamespacesAllowed();
const hasOutbound = (hasCommand('slirp4netns') || hasCommand('pasta')) && tunUsable();

/** Sends `payload` on a fresh TCP connection and resolves with everything received until `done(text)` or close. */
function tcpExchange(port: number, payload: Buffer | string, done: (text: string) => boolean = () => false): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect({ host: '127.0.0.1', port }, () => s.write(payload));
    s.on('data', (d) => { got += d.toString('latin1'); if (done(got)) { s.destroy(); resolve(got); } });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error(`timeout; got ${JSON.stringify(got)}`)); });
  });
}

skipUnless(canRun, 'the native helper is not built or user namespaces are unavailable')('published ports', () => {
  it('reaches redis from the host through its published port (PING -> PONG), 50 connections in parallel', async () => {
    await using redis = await new Container(fixtureRef('redis')).expose(6379).start();
    const port = redis.getMappedPort(6379);
    expect(redis.getFirstMappedPort()).toBe(port);
    expect(await tcpExchange(port, 'PING\r\n', (t) => t.includes('\r\n'))).toBe('+PONG\r\n');
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      tcpExchange(port, `SET k${i} v${i}\r\nGET k${i}\r\n`, (t) => t.split('\r\n').length >= 4)));
    replies.forEach((r, i) => expect(r).toBe(`+OK\r\n$${String(i).length + 1}\r\nv${i}\r\n`));
  });

  it('serves a file copied into nginx', async () => {
    await using nginx = await new Container(fixtureRef('nginx'))
      .withFile('/var/www/html/hello.txt', 'copied in by slipway\n')
      .expose(80).waitFor(Wait.forHttp('/hello.txt', 80)).start();
    const res = await fetch(`http://${nginx.host}:${nginx.getMappedPort(80)}/hello.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('copied in by slipway\n');
  });

  it('initialises postgres and runs it as the postgres user; the server answers through the published port', async () => {
    await using pg = await new Container(fixtureRef('postgres'))
      .withEnv({ POSTGRES_USER: 'tester', POSTGRES_PASSWORD: 'secret', POSTGRES_DB: 'app' })
      .expose(5432)
      .waitFor(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    const q = await pg.exec(['psql', '-h', '127.0.0.1', '-U', 'tester', '-d', 'app', '-tAc', 'select current_user, current_database(), 6*7'], { env: { PGPASSWORD: 'secret' } });
    expect(q).toMatchObject({ exitCode: 0, stdout: 'tester|app|42\n' });
    const owner = await pg.exec(['sh', '-c', 'ps -o user= -p 1 >/dev/null 2>&1; stat -c %U /var/lib/postgresql/data; ps -eo user,comm | grep -m1 "postgres$" | cut -d" " -f1']);
    expect(owner.stdout.split('\n')[0]).toBe('postgres');
    // An SSLRequest through the forwarder: a real server answers 'S' or 'N'.
    const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    expect(['N', 'S']).toContain(await tcpExchange(pg.getMappedPort(5432), ssl, (t) => t.length >= 1));
  });

  it('refuses or closes promptly a connection to a port nothing listens on yet', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).expose(7777).waitFor(Wait.none()).start();
    // Refused or closed by the forwarder (its connect inside fails at once), not held open until the client's own
    // 10 s timeout gives up (the 'timeout' error); that tells them apart where a 2 s wall-clock bound could be missed.
    const got = await tcpExchange(c.getMappedPort(7777), 'hello').catch((e: Error) => `error:${e.message}`);
    expect(got === '' || (got.startsWith('error:') && !got.startsWith('error:timeout')), got).toBe(true);
  });

  it('gives a clear error when a fixed host port is taken', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const err = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).expose(80, taken).start().then(() => undefined, (e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_PORT_IN_USE')).toBe(true);
      expect((err as Error).message).toContain(String(taken));
    } finally {
      blocker.close();
    }
  });

  nativeOnly('the keeper writes these files during CREATE; Docker\'s /etc/hosts for network none has no line for the hostname')('"none" and "host" modes: /etc/hostname, /etc/hosts and /etc/resolv.conf are whole when the process starts', async () => {
    // Written while the keeper creates the container (these modes need nothing the boot makes): the first
    // instruction of the process must already read them complete, on every boot.
    const script = 'cat /etc/hostname; grep -c "etc-early" /etc/hosts; grep -c "^# slipway: no outbound\\|^nameserver" /etc/resolv.conf';
    for (const mode of ['none', 'host'] as const) {
      const c = new Container(fixtureRef('busybox')).withNetworkMode(mode).withHostname('etc-early').withCommand(['sh', '-c', script]);
      for (let i = 0; i < 3; i++) expect(await c.run(), mode).toMatchObject({ exitCode: 0, stdout: 'etc-early\n1\n1\n' });
    }
  });

  it('"none" mode has only loopback', async () => {
    const r = await new Container(fixtureRef('busybox')).withNetworkMode('none').withCommand(['sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "']).run();
    expect(r.stdout).toBe('lo\n');
  });

  it('"host" mode shares the host network namespace', async () => {
    const server = createServer((s) => s.end('from-host\n')).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await new Container(fixtureRef('debian')).withNetworkMode('host')
        .withCommand(['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; cat <&3`]).run();
      expect(r.stdout).toBe('from-host\n');
    } finally {
      server.close();
    }
  });
});

skipUnless(canRun && hasOutbound, 'slirp4netns/pasta missing or /dev/net/tun unusable (run: sudo bash scripts/setup-host.sh)')('outbound and host access', () => {
  nativeOnly('an engine reaches the host through host-gateway, not its 127.0.0.1')('reaches a loopback HTTP server on the host as host.slipway.internal only with host access', async () => {
    const server = createHttpServer((_, res) => res.end('hello host')).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const script = `exec 3<>/dev/tcp/host.slipway.internal/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && tail -n1 <&3`;
    try {
      const withAccess = await new Container(fixtureRef('debian')).withHostAccess(port).withCommand(['bash', '-c', script]).run();
      expect(withAccess.stdout).toBe('hello host');
      const other = await new Container(fixtureRef('debian')).withHostAccess(port).withCommand(['getent', 'hosts', 'host.docker.internal', 'host.containers.internal']).run();
      expect(other.stdout.trim().split('\n')).toHaveLength(2);
      const without = await new Container(fixtureRef('debian'))
        .withCommand(['bash', '-c', `timeout 3 bash -c 'exec 3<>/dev/tcp/10.0.2.2/${port}' && echo connected || echo refused`]).run();
      expect(without.stdout.trim()).toBe('refused');
    } finally {
      server.close();
    }
  });

  nativeOnly('an engine container is on the engine\'s bridge, not behind slirp4netns/pasta')('has eth0 with the slirp/pasta address, a default route and a nameserver', async () => {
    const r = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', 'ip -4 addr show eth0 | grep -o "inet [0-9.]*"; ip route | grep default; cat /etc/resolv.conf | grep nameserver']).run();
    expect(r.stdout).toMatch(/inet 10\.0\.2\.100\n/);
    expect(r.stdout).toMatch(/default via 10\.0\.2\.2/);
    expect(r.stdout).toMatch(/nameserver 10\.0\.2\.3/);
  });

  nativeOnly('the keeper\'s prepared network namespaces are the native runtime\'s')(
    'a process started right behind CREATE in a prepared namespace has its interface, route and /etc files from its first instruction, as one started after its own helper', async () => {
      const keeper = await Keeper.get();
      const probe = new Container(fixtureRef('busybox')).withCommand(['sh', '-c', [
        'ip -4 -o addr show eth0 | grep -o "inet [0-9.]*"', 'ip route | grep -o "default via [0-9.]*"',
        'grep nameserver /etc/resolv.conf', 'grep -c "^10\\.0\\.2\\.100\\s" /etc/hosts',
      ].join('; ')]);
      const expected = 'inet 10.0.2.100\ndefault via 10.0.2.2\nnameserver 10.0.2.3\n1\n';
      expect((await probe.run()).stdout).toBe(expected); // its helper got ready: the keeper prepares namespaces from now on
      await until(() => keeperHasReadySpare(keeper.pid), 10_000);
      await keeper.stopOutbound('no-such-container');
      // The first takes the spare (START goes to init at CREATED, before Node's /etc step); the next, right behind, may
      // find none ready yet and start after its own helper: both see the same network.
      for (let i = 0; i < 3; i++) expect((await probe.run()).stdout).toBe(expected);
    });

  nativeOnly('the keeper\'s prepared network namespaces are the native runtime\'s')(
    'a container started after another joins the namespace the keeper prepared meanwhile: its own interfaces, sockets and host access, nothing of the other\'s', async () => {
      const server = createServer((s) => s.end('from-host')).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const hostPort = (server.address() as AddressInfo).port;
      const keeper = await Keeper.get();
      const listener = (port: number) => new Container(fixtureRef('busybox')).withHostAccess(hostPort)
        .withCommand(['sh', '-c', `httpd -p ${port} -h /; exec sleep 1000`]).waitFor(Wait.forListeningPorts(port));
      const view = async (c: { exec(argv: string[]): Promise<{ stdout: string }> }) => (await c.exec(['sh', '-c', [
        'ls /sys/class/net | tr "\\n" " "; echo',
        'ip -4 -o addr show eth0 | grep -o "inet [0-9.]*"',
        'cat /proc/net/tcp /proc/net/tcp6 | awk \'$4 == "0A" { print $2 }\' | sort | tr "\\n" " "; echo',
        `nc -w 3 host.slipway.internal ${hostPort} </dev/null`,
      ].join('; ')])).stdout;
      try {
        await using a = await listener(7001).start();
        // The keeper prepares the next namespace once nothing boots (its slirp4netns attached by path, ready); a request
        // answered after the helper's ready byte was written comes from a later loop turn than the one that read it.
        await until(() => keeperHasReadySpare(keeper.pid), 10_000);
        await keeper.stopOutbound('no-such-container');
        await using b = await listener(7002).start();
        const [nsA, nsB] = [a.pid, b.pid].map(netnsOf);
        expect(nsA).toMatch(/^net:\[\d+\]$/);
        expect(nsA).not.toBe(nsB);
        // b's helper was attached before b existed: by the namespace's path, not by b's pid.
        const helpersB = outboundHelpersOf(b.pid);
        expect(helpersB).toHaveLength(1);
        expect(readFileSync(`/proc/${helpersB[0]!.pid}/cmdline`, 'utf8').split('\0')).toContain('--netns-type=path');
        const hex = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
        for (const [c, own, other] of [[a, 7001, 7002], [b, 7002, 7001]] as const) {
          const [ifs, addr, listening, reply] = (await view(c)).split('\n');
          expect(ifs!.trim().split(' ').sort()).toEqual(['eth0', 'lo']);
          expect(addr).toBe('inet 10.0.2.100');
          expect(listening).toContain(hex(own));
          expect(listening).not.toContain(hex(other));
          expect(reply).toBe('from-host');
        }
      } finally {
        server.close();
      }
    });
});

skipUnless(canRun && hasCommand('cc'), 'UDP test needs a C compiler for its static echo server (apt-get install build-essential)')('UDP', () => {
  it("publishes '53/udp': a UDP echo server inside answers each client through the host port", async () => {
    const { toolsLayer } = await import('../keeper/fixture.js');
    const { createSocket } = await import('node:dgram');
    const { join } = await import('node:path');
    await using echo = await new Container(fixtureRef('busybox'))
      .withCopy(join(toolsLayer(), 'bin', 'udp-echo'), '/usr/local/bin/udp-echo', { mode: 0o755 })
      .withCommand(['/usr/local/bin/udp-echo', '53']).expose('53/udp').start();
    const port = echo.getMappedPort('53/udp');
    expect(() => echo.getMappedPort(53)).toThrow(/53\/tcp is not published/);
    const ask = (msg: string) => new Promise<string>((resolve, reject) => {
      const sock = createSocket('udp4');
      const timer = setInterval(() => sock.send(msg, port, '127.0.0.1'), 200); // retry until the server is up
      sock.on('message', (m) => { clearInterval(timer); sock.close(); resolve(m.toString()); });
      sock.on('error', reject);
      sock.send(msg, port, '127.0.0.1');
      setTimeout(() => { clearInterval(timer); sock.close(); reject(new Error('no UDP reply')); }, 5000);
    });
    // The echo server prefixes the source port it saw: each host client has its own flow inside.
    const [a, b] = await Promise.all([ask('one'), ask('two')]);
    expect(a).toMatch(/^\d+:one$/);
    expect(b).toMatch(/^\d+:two$/);
    expect(a.split(':')[0]).not.toBe(b.split(':')[0]);
  });
});

// Scenario 6: throughput and connect latency through a published port, host → server in a
// container or network namespace. The server is bench/native/netbench.c (static): one port
// discards until EOF, the other writes one byte to each connection and closes.
//   slipway      busybox fixture with netbench copied in, expose(9000), expose(9001) (the keeper's
//                forwarder)
//   slirp4netns  netbench in `unshare --net`, slirp4netns --configure --mtu=65520, add_hostfwd on its
//                API socket
//   pasta        pasta --config-net -t … -- netbench (pasta makes the user and network namespaces)
//   docker -p    docker run -p 127.0.0.1:… (docker-proxy, Docker's userland proxy for loopback)
//   loopback     netbench on the host, no namespace: the floor
// Throughput: seconds from connect to the sink's close after BYTES (1 GiB; --quick 256 MiB).
// Latency: connect + hello byte + close, 50 per round, rounds interleaved, first round discarded.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { connectMicros, ensureNetbench, NETBENCH, sendSeconds, waitHello } from '../lib/netbench.mjs';
import { descendants, freePort, sh, Skip, until } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

export const title = 'throughput and connect latency through a published port';
const ROOT = process.getuid() === 0;

function spawnProc(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  child.on('error', (e) => { err += String(e); });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
  return { child, stop, stderr: () => err };
}

/** netbench in a new network namespace (and user namespace when rootless). */
function serverInNetns() {
  const args = ROOT ? ['--net'] : ['--user', '--map-root-user', '--net'];
  return spawnProc('unshare', [...args, NETBENCH, 'serve', '9000', '9001']);
}

function slirpApi(socket, request) {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let buf = '';
    s.on('data', (d) => { buf += d; });
    s.on('end', () => {
      try {
        const r = JSON.parse(buf);
        if (r.error) reject(new Error(`slirp4netns API: ${JSON.stringify(r.error)}`)); else resolve(r);
      } catch (e) { reject(e); }
    });
    s.on('error', reject);
    s.end(JSON.stringify(request));
  });
}

const SETUPS = {
  async slipway(ctx) {
    const { Container, Wait } = ctx.requireSlipway();
    const c = await new Container(ctx.image('busybox')).withCopy(NETBENCH, '/netbench', { mode: 0o755 })
      .withCommand(['/netbench', 'serve', '9000', '9001']).expose(9000).expose(9001)
      .waitFor(Wait.forListeningPorts(9000, 9001)).start();
    return { sink: c.getMappedPort(9000), hello: c.getMappedPort(9001), stop: () => c.remove() };
  },
  async slirp4netns(ctx) {
    if (!ctx.tools.slirp4netns) throw new Skip('slirp4netns not installed');
    const server = serverInNetns();
    const socket = join(ctx.tmp('slirp'), 'api.sock');
    const slirp = spawnProc('slirp4netns', ['--configure', '--mtu=65520', '--disable-host-loopback', '--api-socket', socket,
      ...(ROOT ? [] : ['--userns-path', `/proc/${server.child.pid}/ns/user`]), String(server.child.pid), 'tap0']);
    const stop = async () => { await slirp.stop(); await server.stop(); };
    try {
      await until(() => existsSync(socket), { timeoutMs: 10_000, what: `slirp4netns API socket (${slirp.stderr()})` });
      const [sink, hello] = [await freePort(), await freePort()];
      for (const [host_port, guest_port] of [[sink, 9000], [hello, 9001]]) {
        await slirpApi(socket, { execute: 'add_hostfwd', arguments: { proto: 'tcp', host_addr: '127.0.0.1', host_port, guest_port } });
      }
      await waitHello(hello, 'slirp4netns');
      return { sink, hello, stop };
    } catch (e) { await stop(); throw e; }
  },
  async pasta(ctx) {
    if (!ctx.tools.pasta) throw new Skip('pasta (passt) not installed');
    const [sink, hello] = [await freePort(), await freePort()];
    // pasta makes the namespaces and runs netbench in them (it cannot open another process's
    // namespace files here). As root it would switch to `nobody`; --runas keeps root.
    const pasta = spawnProc('pasta', [...(ROOT ? ['--runas', '0:0'] : []),
      '--config-net', '--foreground', '--quiet', '-t', `127.0.0.1/${sink}:9000`, '-t', `127.0.0.1/${hello}:9001`,
      '-u', 'none', '-T', 'none', '-U', 'none', '--', NETBENCH, 'serve', '9000', '9001']);
    const stop = async () => {
      const kids = descendants(pasta.child.pid);
      await pasta.stop();
      for (const k of kids) { try { process.kill(k.pid, 'SIGKILL'); } catch { /* gone */ } }
    };
    try {
      await waitHello(hello, `pasta (${pasta.stderr().trim().split('\n').at(-1) ?? ''})`);
      return { sink, hello, stop };
    } catch (e) { await stop(); throw e; }
  },
  async 'docker -p'(ctx) {
    const ref = await ctx.dockerImage('busybox');
    const [sink, hello] = [await freePort(), await freePort()];
    const id = (await sh('docker', ['run', '-d', '-p', `127.0.0.1:${sink}:9000`, '-p', `127.0.0.1:${hello}:9001`,
      '-v', `${NETBENCH}:/netbench:ro`, ref, '/netbench', 'serve', '9000', '9001'])).stdout.trim();
    const stop = () => sh('docker', ['rm', '-f', id], { allowFail: true });
    try {
      await waitHello(hello, 'docker');
      return { sink, hello, stop };
    } catch (e) { await stop(); throw e; }
  },
  async loopback() {
    const [sink, hello] = [await freePort(), await freePort()];
    const server = spawnProc(NETBENCH, ['serve', String(sink), String(hello)]);
    try {
      await waitHello(hello, 'loopback');
      return { sink, hello, stop: server.stop };
    } catch (e) { await server.stop(); throw e; }
  },
};

export async function run(ctx, label) {
  await ensureNetbench();
  const bytes = ctx.opts.quick ? 256 * 2 ** 20 : 2 ** 30;
  const names = Object.keys(SETUPS);
  const endpoints = {};
  const setupErrors = {};
  for (const name of names) {
    try {
      endpoints[name] = await SETUPS[name](ctx);
    } catch (e) {
      setupErrors[name] = e;
      ctx.note(`  ${name}: ${e.message.split('\n')[0]}`);
    }
  }
  try {
    const tput = names.map((name) => ({
      name,
      error: setupErrors[name],
      run: async () => bytes / 1e6 / (await sendSeconds(endpoints[name].sink, bytes)),
    }));
    await interleave(tput, { runs: ctx.runsFor(5, 2), warmup: 1, log: ctx.log });

    const perRound = 50;
    const rounds = ctx.opts.quick ? 2 : 4;
    const lat = names.map((name) => ({ name, error: setupErrors[name], samples: [] }));
    for (let round = 0; round <= rounds; round++) {
      for (const s of lat) {
        if (s.error) continue;
        try {
          const us = await connectMicros(endpoints[s.name].hello, perRound);
          if (round > 0) s.samples.push(...us);
        } catch (e) { s.error = e; }
      }
    }
    const gib = bytes / 2 ** 30;
    return [
      ...rowsOf(label, `throughput host→container, ${gib >= 1 ? `${gib} GiB` : `${bytes / 2 ** 20} MiB`} per sample`, 'MB/s', tput),
      ...rowsOf(label, 'connect + first byte + close', 'µs', lat),
    ];
  } finally {
    for (const e of Object.values(endpoints)) await e.stop().catch(() => {});
  }
}

#!/usr/bin/env node
// Quick slipway-only measurements for performance work (no peers, a few seconds each), after
// `npm run build`:
//   node bench/quick.mjs [run,run-none,phases,ports,mem] [runs]
//   run    new Container(debian).withCommand(['true']).run(), `runs` samples (default 30)
//   run-none  the same with withNetworkMode('none')
//   phases the median of each start/run phase (DEBUG=slipway:start lines) over `runs` runs of `true`, default
//          network then network mode none: where the time of `run` goes
//   ports  connect + first byte + close through a published port (400, interleaved with a plain
//          loopback netbench server in the same run) and 1 GiB host→container throughput (TP=n samples)
//   mem    RSS/PSS of the keeper and of each init with 10 idle busybox containers (as scenario 7)
// Same fixtures, registry, netbench and /proc readings as bench/run.mjs; numbers are medians.
// SLIPWAY_HELPER=<path> measures another helper build against the same TypeScript.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { format } from 'node:util';
import { createContext } from './lib/context.mjs';
import { connectMicros, ensureNetbench, NETBENCH, sendSeconds } from './lib/netbench.mjs';
import { freePort, memoryOf, sleep } from './lib/proc.mjs';
import { slipwayProcesses } from './lib/slipway-procs.mjs';

const what = (process.argv[2] || 'run,ports,mem').split(',');
const runs = Number(process.argv[3] || 30);
const ctx = await createContext({ quick: false, verbose: false });
const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const fmt = (name, a) => console.log(`${name}: median ${q(a, 0.5).toFixed(2)} p90 ${q(a, 0.9).toFixed(2)} min ${Math.min(...a).toFixed(2)} n=${a.length}`);
let failed = false;
try {
  const { Container, Wait } = ctx.requireSlipway();
  if (what.includes('run')) {
    const ref = ctx.image('debian');
    await new Container(ref).withCommand(['true']).run();
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await new Container(ref).withCommand(['true']).run();
      ms.push(performance.now() - t0);
      if (r.exitCode !== 0) throw new Error(`true exited with ${r.exitCode}: ${r.stderr}`);
    }
    fmt('run true (ms)', ms);
  }
  if (what.includes('run-none')) {
    const c = new Container(ctx.image('debian')).withCommand(['true']).withNetworkMode('none');
    await c.run();
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await c.run();
      ms.push(performance.now() - t0);
      if (r.exitCode !== 0) throw new Error(`true exited with ${r.exitCode}: ${r.stderr}`);
    }
    fmt('run true, network none (ms)', ms);
  }
  if (what.includes('phases')) {
    const debug = (await import('debug')).default;
    const byPhase = new Map();
    const saved = debug.log;
    debug.log = (...a) => {
      const m = /slipway:start \S+ (.+?) ([\d.]+) ms/.exec(format(...a).replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) byPhase.set(m[1], [...(byPhase.get(m[1]) ?? []), Number(m[2])]);
    };
    debug.enable('slipway:start');
    try {
      for (const none of [false, true]) {
        const c = none ? new Container(ctx.image('debian')).withCommand(['true']).withNetworkMode('none') : new Container(ctx.image('debian')).withCommand(['true']);
        await c.run();
        byPhase.clear();
        const ms = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          await c.run();
          ms.push(performance.now() - t0);
        }
        console.log(`phases, network ${none ? 'none' : 'isolated'} (ms over ${runs} runs: median, min):`);
        for (const [phase, a] of byPhase) console.log(`  ${phase.padEnd(28)} ${q(a, 0.5).toFixed(2).padStart(7)} ${Math.min(...a).toFixed(2).padStart(7)}`);
        fmt(`  run true, network ${none ? 'none' : 'isolated'} (ms)`, ms);
      }
    } finally {
      debug.disable();
      debug.log = saved;
    }
  }
  if (what.includes('ports')) {
    await ensureNetbench();
    const c = await new Container(ctx.image('busybox')).withCopy(NETBENCH, '/netbench', { mode: 0o755 })
      .withCommand(['/netbench', 'serve', '9000', '9001']).expose(9000).expose(9001)
      .waitFor(Wait.forListeningPorts(9000, 9001)).start();
    const [lsink, lhello] = [await freePort(), await freePort()];
    const srv = spawn(NETBENCH, ['serve', String(lsink), String(lhello)], { stdio: 'ignore' });
    try {
      await sleep(200);
      const hello = c.getMappedPort(9001);
      await connectMicros(hello, 50);
      const lat = [], lb = [];
      for (let r = 0; r < 8; r++) { lat.push(...await connectMicros(hello, 50)); lb.push(...await connectMicros(lhello, 50)); }
      fmt('connect+byte+close, published port (µs)', lat);
      fmt('connect+byte+close, plain loopback (µs)', lb);
      const tp = [];
      for (let r = 0; r < (Number(process.env.TP) || 3); r++) tp.push(2 ** 30 / 1e6 / await sendSeconds(c.getMappedPort(9000), 2 ** 30));
      fmt('throughput 1 GiB host→container (MB/s)', tp);
    } finally {
      srv.kill();
      await c.remove();
    }
  }
  if (what.includes('mem')) {
    const k = 10, started = [];
    try {
      for (let i = 0; i < k; i++) started.push(await new Container(ctx.image('busybox')).withCommand(['sleep', '3600']).waitFor(Wait.none()).start());
      await sleep(500);
      const procs = slipwayProcesses();
      const keeper = memoryOf(procs.keeper.pid);
      const inits = procs.inits.map((p) => memoryOf(p.pid));
      console.log(`keeper RSS ${keeper.rssKiB} KiB PSS ${keeper.pssKiB}; init RSS ${inits.map((m) => m.rssKiB).join(',')} KiB, PSS ${inits[0].pssKiB}`);
      console.log(`per container (init + keeper/${k}): RSS ${(inits[0].rssKiB + keeper.rssKiB / k).toFixed(0)} KiB, PSS ${(inits[0].pssKiB + keeper.pssKiB / k).toFixed(0)} KiB`);
    } finally {
      await Promise.allSettled(started.map((c) => c.remove()));
    }
  }
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await ctx.close();
  process.exit(failed ? 1 : 0);
}

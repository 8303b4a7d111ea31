// Scenario 12 (issue 16 target 3): Postgres ready inside a slipway container vs the same entrypoint on the same
// layers in `unshare` + `chroot` (the floor: an overlay of the image's layers under a fresh upper on the same file
// system as slipway's upper dirs, new mount/pid/uts/ipc/net namespaces, /proc, the host's /dev, lo up).
// Warm: the same snapshot layer below both (Postgres finds its data and only starts); cold: initdb on each start.
// Both measure from the call to the "ready to accept connections" line (×2 cold: the init server's, then the real one).
// Beside the wall time, each side's CPU time over the same span (root: a cgroup of the bench's own): the floor's whole
// process tree; slipway's keeper with everything it forks (the container, slirp4netns, workers), so the start path's
// work counts too. On a loaded machine the wall ratio drifts with the neighbours; the CPU ratio says whether the
// service itself does more work inside.
// Cold runs are seconds long and move ±25% between runs with the machine, so they are paired: at least 8 rounds (more
// with --runs), the two sides back to back in each round, the order swapped every round, and the disk settled (sync, dirty
// pages written back) before each sample. Besides each side's median and spread, the per-pair ratio slipway ÷ floor
// (wall and CPU) is reported with the number of pairs slipway won and the load average over the rounds: a drift between
// rounds hits both sides of a pair alike.
// SLIPWAY_BENCH_INSIDE_PERF=1 (root, perf): each cold sample also runs under `perf stat` (software events and syscall
// tracepoints: task-clock, syscalls, fsyncs…), the floor's whole tree and slipway's keeper with all it forks, and each
// counter's median per side is reported: whether the service does the same work inside. Off by default (the counting
// costs a little per syscall).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { cpuMeter } from '../lib/cpu-meter.mjs';
import { PERF_EVENTS, perfAttach, perfPrefix, perfUnavailable, readPerf } from '../lib/perf-stat.mjs';
import { Skip } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { settleDisk } from '../lib/settle.mjs';
import { fmt, interleave, median, pairRatios } from '../lib/stats.mjs';

export const title = 'postgres ready inside a container vs unshare+chroot (the floor)';

const READY = /database system is ready to accept connections/;

export async function run(ctx, label) {
  const slipway = ctx.requireSlipway();
  const ref = ctx.image('postgres');
  const salt = `bench-inside-${process.pid}-${Date.now()}`;
  const snapOpts = { salt, waitStrategy: slipway.Wait.forLogMessage(READY) };
  const pg = (times) => new slipway.Container(ref).withEnv({ POSTGRES_PASSWORD: 'test' }).expose(5432)
    .waitFor(slipway.Wait.forLogMessage(READY, times)).withStartupTimeout(120_000);
  // The image's layers (as the keeper stacks them) and its environment, from a running container.
  const probe = await new slipway.Container(ref).withEntrypoint(['sleep']).withCommand(['60']).start();
  let lowers, env, snapshotDir, keeper;
  const meters = { floor: cpuMeter('floor'), slipway: cpuMeter('keeper') };
  ctx.defer(() => { for (const m of Object.values(meters)) m.close?.(); });
  try {
    // This process's keeper (the probe started it): what it forks from now on is counted.
    keeper = childrenOf(process.pid).find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'slipway-helper');
    if (keeper && meters.slipway.enter) meters.slipway.enter(keeper);
    else meters.slipway = { why: meters.slipway.why ?? 'the keeper process was not found' };
    lowers = readFileSync(`/proc/${probe.pid}/mountinfo`, 'utf8').match(/lowerdir=([^,]+)/)?.[1];
    env = (await probe.exec(['env'])).stdout.split('\n').filter((l) => /^(PATH|LANG|PG_MAJOR|PGDATA)=/.test(l));
  } finally {
    await probe.remove();
  }
  {
    const first = await pg(2).withSnapshot(snapOpts).start();
    snapshotDir = first.snapshot?.layerDir;
    await first.remove();
  }
  const cpu = { warm: {}, cold: {} };
  // Wraps a subject's run: its CPU time over the same span, kept for the rounds after the warm-up.
  const metered = (meter, into, run) => async (i) => {
    if (!meter.usageMs) return run(i);
    const before = meter.usageMs();
    const ms = await run(i, () => { into.at = meter.usageMs() - before; });
    if (i >= 1) {
      (into.samples ??= []).push(into.at ?? meter.usageMs() - before);
      (into.rounds ??= []).push(i);
    }
    into.at = undefined;
    return ms;
  };
  // Opt-in perf stat counters of the cold samples, per side: event → {samples, rounds}.
  const perf = { on: process.env.SLIPWAY_BENCH_INSIDE_PERF === '1', counts: { slipway: {}, floor: {} } };
  if (perf.on) perf.why = process.getuid?.() !== 0 ? 'perf stat of the keeper: root only' : await perfUnavailable();
  const perfOut = (side) => `${ctx.work}/perf-${side}.csv`;
  const keepPerf = (side, i, got) => {
    if (i < 1) return;
    for (const [event, v] of Object.entries(got)) {
      const c = (perf.counts[side][event] ??= { samples: [], rounds: [] });
      c.samples.push(v);
      c.rounds.push(i);
    }
  };
  const floor = (layers, times, phases, counted) => async (i, readyNow = () => {}) => {
    if (process.getuid?.() !== 0) throw new Skip('the floor mounts an overlay: root only');
    if (!layers) throw new Skip('no overlay lower dirs found in the container\'s mountinfo');
    // Beside slipway's root state dir (/run/slipway, where a root keeper's upper dirs are): the same file system.
    const base = `/run/slipway-floor-${process.pid}`;
    rmSync(base, { recursive: true, force: true });
    for (const d of ['upper', 'work', 'root']) mkdirSync(`${base}/${d}`, { recursive: true });
    const t0 = performance.now();
    const wall0 = Date.now();
    const readyLines = [];
    const script = `set -e; mount -t overlay overlay -o lowerdir=${layers},upperdir=${base}/upper,workdir=${base}/work ${base}/root; `
      + `mount -t proc proc ${base}/root/proc; mount --rbind /dev ${base}/root/dev; ip link set lo up; `
      + `exec chroot ${base}/root /usr/bin/env -i ${[...env, 'HOME=/root', 'POSTGRES_PASSWORD=test'].join(' ')} /usr/local/bin/docker-entrypoint.sh postgres`;
    const meter = meters.floor.enter ? `echo $$ > ${meters.floor.dir}/cgroup.procs; ` : '';
    const counting = counted && perf.on && !perf.why;
    const wrap = counting ? `${perfPrefix(perfOut('floor')).join(' ')} ` : '';
    const p = spawn('sh', ['-c', `${meter}exec ${wrap}unshare --mount --pid --fork --uts --ipc --net sh -c "$1"`, 'sh', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    let buf = '';
    let all = '';
    try {
      return await new Promise((resolve, reject) => {
        const on = (d) => {
          buf += d;
          all = (all + d).slice(-4000);
          const lines = buf.split('\n');
          buf = lines.pop();
          for (const l of lines) {
            if (READY.test(l)) readyLines.push(l);
            if (READY.test(l) && ++seen >= times) {
              const ms = performance.now() - t0;
              readyNow();
              phases?.add(i, wall0, readyLines, Date.now());
              resolve(ms);
            }
          }
        };
        p.stdout.on('data', on);
        p.stderr.on('data', on);
        p.on('exit', (c) => reject(new Error(`the floor's postgres exited (${c}): ${all}`)));
      });
    } finally {
      // The namespace's init (postgres after the entrypoint's setpriv) lost any pdeathsig with its ids: kill it.
      // sh exec'd unshare (or perf, whose child is unshare), so its child is the namespace's init.
      for (const k of counting ? childrenOf(p.pid).flatMap(childrenOf) : childrenOf(p.pid)) process.kill(k, 'SIGKILL');
      // perf writes its counts once unshare exited (it does when its child, the init, is gone): wait, do not kill it.
      const closed = new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) r(); else p.once('close', r); });
      const late = setTimeout(() => p.kill('SIGKILL'), counting ? 30_000 : 0);
      await closed;
      clearTimeout(late);
      try { execFileSync('umount', ['-R', `${base}/root`], { stdio: 'ignore' }); } catch { /* the namespace took its mounts along */ }
      rmSync(base, { recursive: true, force: true });
      if (counting) keepPerf('floor', i, readPerf(perfOut('floor')));
    }
  };
  const inside = (builder, phases, counted) => async (i, readyNow = () => {}) => {
    const counter = counted && perf.on && !perf.why && keeper ? await perfAttach(keeper, perfOut('slipway')) : undefined;
    const t0 = performance.now();
    const wall0 = Date.now();
    const c = await builder().start();
    const ms = performance.now() - t0;
    const seenAt = Date.now();
    readyNow();
    if (counter) keepPerf('slipway', i, await counter.stop());
    if (phases) phases.add(i, wall0, (await c.logs().text()).split('\n').filter((l) => READY.test(l)), seenAt);
    await c.remove();
    // The keeper releases the namespaces and deletes the state dir (the data dir with it) in children of its own after
    // remove() answered: let them finish before the next sample, as the floor's own clean-up does.
    for (let t = 0; t < 300 && keeper && childrenOf(keeper).length; t++) await sleep(100);
    return ms;
  };
  const warm = [
    { name: 'slipway', run: metered(meters.slipway, cpu.warm.slipway = {}, inside(() => pg(1).withSnapshot(snapOpts))) },
    { name: 'unshare+chroot (floor)', run: metered(meters.floor, cpu.warm.floor = {}, floor(snapshotDir && lowers && `${snapshotDir}:${lowers}`, 1)) },
  ];
  await interleave(warm, { runs: ctx.runsFor(10, 3), warmup: 1, log: ctx.log, alternate: true });
  const phases = { slipway: coldPhases(), floor: coldPhases() };
  const cold = [
    { name: 'slipway', run: metered(meters.slipway, cpu.cold.slipway = {}, inside(() => pg(2), phases.slipway, true)) },
    { name: 'unshare+chroot (floor)', run: metered(meters.floor, cpu.cold.floor = {}, floor(lowers, 2, phases.floor, true)) },
  ];
  const loads = [];
  const coldRuns = ctx.opts.quick ? ctx.runsFor(8, 2) : Math.max(ctx.opts.runs ?? 0, 8);
  await interleave(cold, {
    runs: coldRuns, warmup: 1, log: ctx.log, alternate: true,
    before: async (i, subject) => {
      const settled = await settleDisk();
      const load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
      if (i >= 1 && subject === cold[0]) loads.push(load);
      ctx.log(`  (round ${i}, ${subject.name}: disk settled in ${settled} ms, load ${load})`);
    },
  });
  const cpuWarm = cpuSubjects(warm, cpu.warm, meters);
  const cpuCold = cpuSubjects(cold, cpu.cold, meters);
  const pairs = (what, [a, b]) => {
    const ratios = a.error || b.error ? [] : pairRatios(a, b);
    if (ratios.length) {
      const won = ratios.filter((r) => r < 1).length;
      ctx.note(`12 inside, ${what}: per-pair slipway ÷ floor median ${fmt(median(ratios))}x (min ${fmt(Math.min(...ratios))}, max ${fmt(Math.max(...ratios))}), slipway faster in ${won} of ${ratios.length} pairs`);
    }
    return [{ name: 'slipway ÷ floor, per pair', samples: ratios, error: a.error ?? b.error }];
  };
  if (loads.length) ctx.note(`12 inside, cold: load average (1 min) over the rounds ${fmt(Math.min(...loads))}-${fmt(Math.max(...loads))}, median ${fmt(median(loads))}`);
  return [
    ...rowsOf(label, 'postgres ready (log line), from the same snapshot data', 'ms', warm),
    ...rowsOf(label, 'postgres ready (log line ×2), cold (initdb)', 'ms', cold),
    ...rowsOf(label, 'CPU time to ready, from the same snapshot data', 'ms', cpuWarm),
    ...rowsOf(label, 'CPU time to ready, cold (initdb)', 'ms', cpuCold),
    ...PHASES.flatMap(([key, metric]) => rowsOf(label, metric, 'ms', cold.map((c, k) => ({
      name: c.name, error: c.error, ...phases[k ? 'floor' : 'slipway'][key],
    })))),
    ...(perf.on ? PERF_EVENTS.flatMap((event) => rowsOf(label, `cold, perf stat: ${event}`, event === 'task-clock' ? 'ms' : 'count',
      cold.map((c, k) => ({ name: c.name, error: c.error ?? (perf.why ? new Skip(perf.why) : undefined), ...perf.counts[k ? 'floor' : 'slipway'][event] }))))
      : []),
    ...rowsOf(label, 'ready, from the snapshot: per-pair ratio', 'x', pairs('from the snapshot, wall', warm)),
    ...rowsOf(label, 'ready, cold (initdb): per-pair ratio', 'x', pairs('cold, wall', cold)),
    ...rowsOf(label, 'CPU time, cold (initdb): per-pair ratio', 'x', pairs('cold, CPU', cpuCold)),
  ];
}

// A cold start's steps, from Postgres' own log timestamps (ms, same clock on both sides) and the time the line was seen.
const PHASES = [
  ['first', 'cold: start call → first ready (entrypoint, initdb, temp server)'],
  ['second', 'cold: first ready → second (init scripts, stop, real server)'],
  ['notice', 'cold: second ready line → seen by the caller'],
];

function coldPhases() {
  const out = { first: { samples: [], rounds: [] }, second: { samples: [], rounds: [] }, notice: { samples: [], rounds: [] } };
  // Not anchored: the temp server's first line can follow pg_ctl's "waiting for server to start...." on the same line.
  const at = (line) => Date.parse(/(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+) \[\d+\]/.exec(line)?.[1] ?? '');
  const push = (key, round, v) => { if (Number.isFinite(v)) { out[key].samples.push(v); out[key].rounds.push(round); } };
  return Object.assign(out, {
    /** Round i's two ready lines (as Postgres wrote them), the call's wall time and when the caller saw the second. */
    add(i, wall0, lines, seenAt) {
      if (i < 1) return;
      const [a, b] = lines.map(at);
      push('first', i, a - wall0);
      push('second', i, b - a);
      push('notice', i, seenAt - b);
    },
  });
}

/** The CPU rows' subjects: the wall-time subjects' names with the CPU samples (or why there are none). */
function cpuSubjects(subjects, cpu, meters) {
  return subjects.map((s) => {
    const key = s.name === 'slipway' ? 'slipway' : 'floor';
    const why = meters[key].why;
    const error = s.error ?? (why ? new Skip(why) : undefined);
    return { name: s.name, samples: cpu[key].samples ?? [], rounds: cpu[key].rounds ?? [], error };
  });
}

function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// Scenario 12 (issue 16 target 3): Postgres ready inside a slipway container vs the same entrypoint on the same
// layers in `unshare` + `chroot` (the floor: an overlay of the image's layers under a fresh upper on the same file
// system as slipway's upper dirs, new mount/pid/uts/ipc/net namespaces, /proc, the host's /dev, lo up).
// Warm: the same snapshot layer below both (Postgres finds its data and only starts); cold: initdb on each start.
// Both measure from the call to the "ready to accept connections" line (×2 cold: the init server's, then the real one).
// Beside the wall time, each side's CPU time over the same span (root: a cgroup of the bench's own): the floor's whole
// process tree; slipway's keeper with everything it forks (the container, slirp4netns, workers), so the start path's
// work counts too. On a loaded machine the wall ratio drifts with the neighbours; the CPU ratio says whether the
// service itself does more work inside.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { cpuMeter } from '../lib/cpu-meter.mjs';
import { Skip } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

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
  let lowers, env, snapshotDir;
  const meters = { floor: cpuMeter('floor'), slipway: cpuMeter('keeper') };
  ctx.defer(() => { for (const m of Object.values(meters)) m.close?.(); });
  try {
    // This process's keeper (the probe started it): what it forks from now on is counted.
    const keeper = childrenOf(process.pid).find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'slipway-helper');
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
    if (i >= 1) (into.samples ??= []).push(into.at ?? meter.usageMs() - before);
    into.at = undefined;
    return ms;
  };
  const floor = (layers, times) => async (_i, readyNow = () => {}) => {
    if (process.getuid?.() !== 0) throw new Skip('the floor mounts an overlay: root only');
    if (!layers) throw new Skip('no overlay lower dirs found in the container\'s mountinfo');
    // Beside slipway's root state dir (/run/slipway, where a root keeper's upper dirs are): the same file system.
    const base = `/run/slipway-floor-${process.pid}`;
    rmSync(base, { recursive: true, force: true });
    for (const d of ['upper', 'work', 'root']) mkdirSync(`${base}/${d}`, { recursive: true });
    const t0 = performance.now();
    const script = `set -e; mount -t overlay overlay -o lowerdir=${layers},upperdir=${base}/upper,workdir=${base}/work ${base}/root; `
      + `mount -t proc proc ${base}/root/proc; mount --rbind /dev ${base}/root/dev; ip link set lo up; `
      + `exec chroot ${base}/root /usr/bin/env -i ${[...env, 'HOME=/root', 'POSTGRES_PASSWORD=test'].join(' ')} /usr/local/bin/docker-entrypoint.sh postgres`;
    const meter = meters.floor.enter ? `echo $$ > ${meters.floor.dir}/cgroup.procs; ` : '';
    const p = spawn('sh', ['-c', `${meter}exec unshare --mount --pid --fork --uts --ipc --net sh -c "$1"`, 'sh', script], { stdio: ['ignore', 'pipe', 'pipe'] });
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
            if (READY.test(l) && ++seen >= times) {
              const ms = performance.now() - t0;
              readyNow();
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
      // sh exec'd unshare, so its child is the namespace's init.
      for (const k of childrenOf(p.pid)) process.kill(k, 'SIGKILL');
      p.kill('SIGKILL');
      await new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) r(); else p.once('close', r); });
      try { execFileSync('umount', ['-R', `${base}/root`], { stdio: 'ignore' }); } catch { /* the namespace took its mounts along */ }
      rmSync(base, { recursive: true, force: true });
    }
  };
  const inside = (builder) => async (_i, readyNow = () => {}) => {
    const t0 = performance.now();
    const c = await builder().start();
    const ms = performance.now() - t0;
    readyNow();
    await c.remove();
    return ms;
  };
  const warm = [
    { name: 'slipway', run: metered(meters.slipway, cpu.warm.slipway = {}, inside(() => pg(1).withSnapshot(snapOpts))) },
    { name: 'unshare+chroot (floor)', run: metered(meters.floor, cpu.warm.floor = {}, floor(snapshotDir && lowers && `${snapshotDir}:${lowers}`, 1)) },
  ];
  await interleave(warm, { runs: ctx.runsFor(10, 3), warmup: 1, log: ctx.log });
  const cold = [
    { name: 'slipway', run: metered(meters.slipway, cpu.cold.slipway = {}, inside(() => pg(2))) },
    { name: 'unshare+chroot (floor)', run: metered(meters.floor, cpu.cold.floor = {}, floor(lowers, 2)) },
  ];
  await interleave(cold, { runs: ctx.runsFor(5, 2), warmup: 1, log: ctx.log });
  return [
    ...rowsOf(label, 'postgres ready (log line), from the same snapshot data', 'ms', warm),
    ...rowsOf(label, 'postgres ready (log line ×2), cold (initdb)', 'ms', cold),
    ...rowsOf(label, 'CPU time to ready, from the same snapshot data', 'ms', cpuSubjects(warm, cpu.warm, meters)),
    ...rowsOf(label, 'CPU time to ready, cold (initdb)', 'ms', cpuSubjects(cold, cpu.cold, meters)),
  ];
}

/** The CPU rows' subjects: the wall-time subjects' names with the CPU samples (or why there are none). */
function cpuSubjects(subjects, cpu, meters) {
  return subjects.map((s) => {
    const key = s.name === 'slipway' ? 'slipway' : 'floor';
    const why = meters[key].why;
    const error = s.error ?? (why ? new Skip(why) : undefined);
    return { name: s.name, samples: cpu[key].samples ?? [], error };
  });
}

function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

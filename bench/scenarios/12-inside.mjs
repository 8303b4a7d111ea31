// Scenario 12 (issue 16 target 3): Postgres ready inside a slipway container vs the same entrypoint on the same
// layers in `unshare` + `chroot` (the floor: an overlay of the image's layers under a fresh upper on the same file
// system as slipway's upper dirs, new mount/pid/uts/ipc/net namespaces, /proc, the host's /dev, lo up).
// Warm: the same snapshot layer below both (Postgres finds its data and only starts); cold: initdb on each start.
// Both measure from the call to the "ready to accept connections" line (×2 cold: the init server's, then the real one).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
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
  try {
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
  const floor = (layers, times) => async () => {
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
    const p = spawn('unshare', ['--mount', '--pid', '--fork', '--uts', '--ipc', '--net', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
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
          for (const l of lines) if (READY.test(l) && ++seen >= times) resolve(performance.now() - t0);
        };
        p.stdout.on('data', on);
        p.stderr.on('data', on);
        p.on('exit', (c) => reject(new Error(`the floor's postgres exited (${c}): ${all}`)));
      });
    } finally {
      // The namespace's init (postgres after the entrypoint's setpriv) lost any pdeathsig with its ids: kill it.
      const kids = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const k of kids) process.kill(Number(k), 'SIGKILL');
      p.kill('SIGKILL');
      await new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) r(); else p.once('close', r); });
      try { execFileSync('umount', ['-R', `${base}/root`], { stdio: 'ignore' }); } catch { /* the namespace took its mounts along */ }
      rmSync(base, { recursive: true, force: true });
    }
  };
  const inside = (builder) => async () => {
    const t0 = performance.now();
    const c = await builder().start();
    const ms = performance.now() - t0;
    await c.remove();
    return ms;
  };
  const warm = [
    { name: 'slipway', run: inside(() => pg(1).withSnapshot(snapOpts)) },
    { name: 'unshare+chroot (floor)', run: floor(snapshotDir && lowers && `${snapshotDir}:${lowers}`, 1) },
  ];
  await interleave(warm, { runs: ctx.runsFor(10, 3), warmup: 1, log: ctx.log });
  const cold = [
    { name: 'slipway', run: inside(() => pg(2)) },
    { name: 'unshare+chroot (floor)', run: floor(lowers, 2) },
  ];
  await interleave(cold, { runs: ctx.runsFor(5, 2), warmup: 1, log: ctx.log });
  return [
    ...rowsOf(label, 'postgres ready (log line), from the same snapshot data', 'ms', warm),
    ...rowsOf(label, 'postgres ready (log line ×2), cold (initdb)', 'ms', cold),
  ];
}

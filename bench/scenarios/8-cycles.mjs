// Scenario 8: many start/stop/remove cycles of a busybox `sleep` container (1,000; --runs N sets the
// count, --quick 50), the time of each, and what is left afterwards compared with before (after one
// warm-up cycle, so the keeper exists in both): processes under this Node process, mounts in
// /proc/self/mountinfo, the keeper's open fds, entries under the state dir, slipway cgroup dirs.
// Docker (`docker run -d` + `docker rm -f`) runs interleaved for the first 100 cycles, for the ratio.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fdCount, sh, Skip } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { slipwayCgroups, slipwayProcesses, stateEntries } from '../lib/slipway-procs.mjs';

export const title = 'start/stop cycles: time per cycle and leaks';

function snapshot() {
  const procs = slipwayProcesses();
  return {
    processes: procs.all.length,
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length,
    keeperFds: procs.keeper ? fdCount(procs.keeper.pid) : Number.NaN,
    stateEntries: stateEntries(),
    cgroupDirs: slipwayCgroups(),
  };
}

export async function run(ctx, label) {
  const cycles = ctx.opts.runs ?? (ctx.opts.quick ? 50 : 1000);
  const dockerCycles = Math.min(cycles, 100);
  const ref = ctx.image('busybox');
  const slip = { name: 'slipway', samples: [] };
  const dock = { name: 'docker run -d + rm -f', samples: [] };
  let dockerRef;
  let before, after;
  const cycle = async () => {
    const { Container, Wait } = ctx.requireSlipway();
    const t0 = performance.now();
    const c = await new Container(ref).withCommand(['sleep', '3600']).waitFor(Wait.none()).start();
    await c.stop();
    await c.remove();
    return performance.now() - t0;
  };
  try {
    await cycle(); // warm-up: starts the keeper, caches the image
    before = snapshot();
  } catch (e) {
    slip.error = e instanceof Skip ? e : e;
  }
  try { dockerRef = await ctx.dockerImage('busybox'); await sh('docker', ['rm', '-f', (await sh('docker', ['run', '-d', dockerRef, 'sleep', '3600'])).stdout.trim()]); } catch (e) { dock.error = e; }
  for (let i = 0; i < cycles; i++) {
    if (!slip.error) {
      try { slip.samples.push(await cycle()); } catch (e) { slip.error = e; }
    }
    if (i < dockerCycles && !dock.error) {
      try {
        const t0 = performance.now();
        const id = (await sh('docker', ['run', '-d', dockerRef, 'sleep', '3600'])).stdout.trim();
        await sh('docker', ['rm', '-f', id]);
        dock.samples.push(performance.now() - t0);
      } catch (e) { dock.error = e; }
    }
    if (slip.error && (dock.error || i >= dockerCycles)) break;
    if ((i + 1) % 100 === 0) ctx.note(`  ${i + 1}/${cycles} cycles`);
  }
  const rows = rowsOf(label, `start+stop+remove cycle (${cycles} slipway, ${dockerCycles} docker)`, 'ms', [slip, dock]);
  if (before && slip.samples.length) {
    after = snapshot();
    ctx.note(`  before ${JSON.stringify(before)} after ${JSON.stringify(after)}`);
    for (const k of Object.keys(before)) {
      rows.push(...rowsOf(label, `leaked after ${slip.samples.length} cycles: ${k}`, 'count', [{ name: 'slipway', samples: [after[k] - before[k]] }]));
    }
  }
  return rows;
}

// Scenario 4: stop and remove of a running container (`sleep infinity` in the debian fixture).
//   slipway  stop() (the stop signal reaches `sleep` through slipway's init, which is PID 1) then
//            remove(); also reported: stop() alone, until the exit is reported
//   docker   docker rm -f (SIGKILL and remove in one call; `sleep` as PID 1 would ignore SIGTERM)
//   podman   podman rm -f -t 0 (without -t 0 it waits 10 s for `sleep` to honour SIGTERM)
// Starting the container is not timed.
import { performance } from 'node:perf_hooks';
import { PODMAN_RUN_ARGS } from '../lib/context.mjs';
import { sh } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

export const title = 'stop + remove of a running container';

export async function run(ctx, label) {
  const ref = ctx.image('debian');
  let dockerRef, podmanRef;
  const stopOnly = [];
  const subjects = [
    {
      name: 'slipway',
      run: async (i) => {
        const { Container, Wait } = ctx.requireSlipway();
        const c = await new Container(ref).withCommand(['sleep', 'infinity']).waitFor(Wait.none()).start();
        const t0 = performance.now();
        await c.stop();
        const t1 = performance.now();
        await c.remove();
        const t2 = performance.now();
        if (i > 0) stopOnly.push(t1 - t0);
        return t2 - t0;
      },
    },
    {
      name: 'docker rm -f',
      run: async () => {
        dockerRef ??= await ctx.dockerImage('debian');
        const id = (await sh('docker', ['run', '-d', dockerRef, 'sleep', 'infinity'])).stdout.trim();
        return (await sh('docker', ['rm', '-f', id])).ms;
      },
    },
    {
      name: 'podman rm -f -t 0',
      run: async () => {
        podmanRef ??= await ctx.podmanImage('debian');
        const id = (await sh('podman', ['run', '-d', ...PODMAN_RUN_ARGS, podmanRef, 'sleep', 'infinity'])).stdout.trim();
        return (await sh('podman', ['rm', '-f', '-t', '0', id])).ms;
      },
    },
  ];
  await interleave(subjects, { runs: ctx.runsFor(20, 5), warmup: 1, log: ctx.log });
  return [
    ...rowsOf(label, 'stop + remove (running `sleep infinity`)', 'ms', subjects),
    ...(stopOnly.length ? rowsOf(label, 'stop() alone, until exit reported', 'ms', [{ name: 'slipway', samples: stopOnly }]) : []),
  ];
}

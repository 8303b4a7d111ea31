// Scenario 2: warm start→exit of `true` in the Debian fixture (image already pulled, so the time is
// the runtime's own: create, start, wait for exit, collect output, remove).
//   slipway  new Container(ref).withCommand(['true']).run()
//   slipway (network none)  the same with withNetworkMode('none') (no outbound helper; issue 16's ≤ 6 ms target)
//   docker   docker run --rm <ref> true
//   podman   podman run --rm <ref> true (with rlimits this VM allows, see PODMAN_RUN_ARGS)
// Every subject uses its default network setup.
import { performance } from 'node:perf_hooks';
import { PODMAN_RUN_ARGS } from '../lib/context.mjs';
import { sh } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

export const title = 'warm start→exit of `true` (debian fixture)';

export async function run(ctx, label) {
  const ref = ctx.image('debian');
  let dockerRef, podmanRef;
  const subjects = [
    {
      name: 'slipway',
      run: async () => {
        const { Container } = ctx.requireSlipway();
        const t0 = performance.now();
        const r = await new Container(ref).withCommand(['true']).run();
        const ms = performance.now() - t0;
        if (r.exitCode !== 0) throw new Error(`true exited with ${r.exitCode}/${r.signal}: ${r.stderr}`);
        return ms;
      },
    },
    {
      name: 'slipway (network none)',
      run: async () => {
        const { Container } = ctx.requireSlipway();
        const t0 = performance.now();
        const r = await new Container(ref).withCommand(['true']).withNetworkMode('none').run();
        const ms = performance.now() - t0;
        if (r.exitCode !== 0) throw new Error(`true exited with ${r.exitCode}/${r.signal}: ${r.stderr}`);
        return ms;
      },
    },
    {
      name: 'docker run --rm',
      run: async () => {
        dockerRef ??= await ctx.dockerImage('debian');
        return (await sh('docker', ['run', '--rm', dockerRef, 'true'])).ms;
      },
    },
    {
      name: 'podman run --rm',
      run: async () => {
        podmanRef ??= await ctx.podmanImage('debian');
        return (await sh('podman', ['run', '--rm', ...PODMAN_RUN_ARGS, podmanRef, 'true'])).ms;
      },
    },
  ];
  await interleave(subjects, { runs: ctx.runsFor(20, 5), warmup: 2, log: ctx.log });
  return rowsOf(label, 'start→exit `true`', 'ms', subjects);
}

// Scenario 5: twenty redis containers started at once (Promise.all), until every one is ready
// (log line + PING through its published port, as in scenario 3). Teardown is not timed.
import { performance } from 'node:perf_hooks';
import { startWithSlipway, startWithTestcontainers } from '../lib/services.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

export const title = '20 redis containers in parallel, all ready';
const COUNT = 20;

async function all(startOne) {
  const results = await Promise.allSettled(Array.from({ length: COUNT }, () => startOne()));
  const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  return { ok, failed: results.find((r) => r.status === 'rejected')?.reason };
}

export async function run(ctx, label) {
  const ref = ctx.image('redis');
  let dockerRef;
  const measure = async (startOne) => {
    const t0 = performance.now();
    const { ok, failed } = await all(startOne);
    const ms = performance.now() - t0;
    await Promise.allSettled(ok.map((c) => c.stop()));
    if (failed) throw failed;
    return ms;
  };
  const subjects = [
    {
      name: 'slipway',
      run: async () => {
        const slipway = ctx.requireSlipway();
        return measure(() => startWithSlipway(slipway, ref, 'redis'));
      },
    },
    {
      name: 'testcontainers-node (docker)',
      run: async () => {
        const tc = ctx.requireTestcontainers();
        dockerRef ??= await ctx.dockerImage('redis');
        return measure(() => startWithTestcontainers(tc, dockerRef, 'redis'));
      },
    },
  ];
  await interleave(subjects, { runs: ctx.runsFor(3, 1), warmup: ctx.opts.quick ? 0 : 1, log: ctx.log });
  return rowsOf(label, `${COUNT} redis in parallel, all ready`, 'ms', subjects);
}

// Scenario 3: start-to-ready of the redis and postgres fixtures, slipway vs testcontainers-node on
// Docker, same images and wait conditions (see lib/services.mjs). Teardown is not timed.
import { performance } from 'node:perf_hooks';
import { SERVICES, startWithSlipway, startWithTestcontainers } from '../lib/services.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

export const title = 'start-to-ready of redis and postgres';

export async function run(ctx, label) {
  const rows = [];
  for (const name of ['redis', 'postgres']) {
    const ref = ctx.image(name);
    let dockerRef;
    const subjects = [
      {
        name: 'slipway',
        run: async () => {
          const slipway = ctx.requireSlipway();
          const t0 = performance.now();
          const c = await startWithSlipway(slipway, ref, name);
          const ms = performance.now() - t0;
          await c.stop();
          return ms;
        },
      },
      {
        name: 'testcontainers-node (docker)',
        run: async () => {
          const tc = ctx.requireTestcontainers();
          dockerRef ??= await ctx.dockerImage(name);
          const t0 = performance.now();
          const c = await startWithTestcontainers(tc, dockerRef, name);
          const ms = performance.now() - t0;
          await c.stop();
          return ms;
        },
      },
    ];
    await interleave(subjects, { runs: ctx.runsFor(name === 'postgres' ? 5 : 10, 2), warmup: 1, log: ctx.log });
    const first = name === 'redis' ? 'PING' : "psql 'select 1'";
    const svc = SERVICES[name];
    rows.push(...rowsOf(label, `${name} ready (log ×${svc.times} + first ${first})`, 'ms', subjects));
  }
  return rows;
}

// Scenario 9: postgres ready (first `psql 'select 1'` succeeds) from a snapshot (withSnapshot(), issue 13) vs a
// cold first start vs testcontainers-node on Docker (same image, env and first query), and reset() back to the
// snapshot until the first query succeeds again. The snapshot is made by the warm-up round (its own salt per run).
import { performance } from 'node:perf_hooks';
import { SERVICES, startWithSlipway, startWithTestcontainers } from '../lib/services.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';

export const title = 'postgres from a snapshot, cold, testcontainers; reset()';

export async function run(ctx, label) {
  const ref = ctx.image('postgres');
  const svc = SERVICES.postgres;
  const salt = `bench-${process.pid}-${Date.now()}`;
  const snapshotted = (slipway) => new slipway.Container(ref).withEnv(svc.env).expose(svc.port)
    .waitFor(slipway.Wait.forLogMessage(svc.log, svc.times)).withStartupTimeout(120_000)
    .withSnapshot({ salt, waitStrategy: slipway.Wait.forLogMessage(svc.log) });
  let dockerRef;
  const subjects = [
    {
      name: 'slipway from snapshot',
      run: async () => {
        const slipway = ctx.requireSlipway();
        const t0 = performance.now();
        const c = await snapshotted(slipway).start();
        await svc.firstRequest(c.getMappedPort(svc.port));
        const ms = performance.now() - t0;
        await c.remove();
        return ms;
      },
    },
    {
      name: 'slipway cold (no snapshot)',
      run: async () => {
        const slipway = ctx.requireSlipway();
        const t0 = performance.now();
        const c = await startWithSlipway(slipway, ref, 'postgres');
        const ms = performance.now() - t0;
        await c.stop();
        return ms;
      },
    },
    {
      name: 'testcontainers-node (docker)',
      run: async () => {
        const tc = ctx.requireTestcontainers();
        dockerRef ??= await ctx.dockerImage('postgres');
        const t0 = performance.now();
        const c = await startWithTestcontainers(tc, dockerRef, 'postgres');
        const ms = performance.now() - t0;
        await c.stop();
        return ms;
      },
    },
  ];
  await interleave(subjects, { runs: ctx.runsFor(5, 2), warmup: 1, log: ctx.log });
  const rows = rowsOf(label, "postgres ready (first psql 'select 1')", 'ms', subjects);

  let held;
  const reset = [{
    name: 'slipway reset()',
    run: async () => {
      const slipway = ctx.requireSlipway();
      held ??= await snapshotted(slipway).start();
      await svc.firstRequest(held.getMappedPort(svc.port));
      const t0 = performance.now();
      await held.reset();
      await svc.firstRequest(held.getMappedPort(svc.port));
      return performance.now() - t0;
    },
  }];
  try {
    await interleave(reset, { runs: ctx.runsFor(10, 3), warmup: 1, log: ctx.log });
  } finally {
    await held?.remove();
  }
  rows.push(...rowsOf(label, "postgres reset() to first psql 'select 1'", 'ms', reset));
  return rows;
}

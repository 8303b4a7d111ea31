// Scenario 1: cold pull + unpack of the postgres fixture from the loopback registry.
//   slipway       pull() in a fresh Node process into an empty store ($SLIPWAY_CACHE_DIR); the time
//                 of the pull() call (a test process has slipway loaded already). A second subject,
//                 `slipway (process)`, is the whole child process, Node start and imports included.
//   skopeo+umoci  skopeo copy docker://… oci:<tmp> && umoci unpack (the same work by hand)
//   docker        docker pull after removing every image with one of the postgres layers
//   podman        podman pull, likewise
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { layoutImage, removeImagesWithLayers } from '../lib/oci.mjs';
import { sh, Skip } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';
import { BENCH_DIR } from '../lib/context.mjs';

export const title = 'cold pull + unpack of the postgres fixture';

export async function run(ctx, label) {
  const ref = ctx.image('postgres');
  const img = layoutImage(ctx.layout('postgres'), '15');
  const mb = img.compressedBytes / 1e6;
  ctx.note(`  ${ref}: ${mb.toFixed(1)} MB compressed in ${img.layers} layers`);
  const clean = (dir) => rmSync(dir, { recursive: true, force: true });

  let childTotal = [];
  const subjects = [
    {
      name: 'slipway',
      run: async () => {
        if (!ctx.slipway) throw new Skip(ctx.slipwayError);
        const cache = ctx.tmp('slipway-cache');
        try {
          const t0 = performance.now();
          const r = await sh(process.execPath, [join(BENCH_DIR, 'lib/slipway-pull-child.mjs'), ref], {
            env: { ...process.env, SLIPWAY_CACHE_DIR: cache },
          });
          const total = performance.now() - t0;
          const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
          if (out.skip) throw new Skip(`slipway: ${out.skip}`);
          childTotal.push(total);
          return out.ms;
        } finally {
          clean(cache);
        }
      },
    },
    {
      name: 'skopeo+umoci',
      run: async () => {
        if (!ctx.tools.skopeo || !ctx.tools.umoci) throw new Skip('skopeo or umoci not installed (run: sudo bash bench/setup-peers.sh)');
        const dir = ctx.tmp('skopeo');
        try {
          const t0 = performance.now();
          await sh('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}/layout:15`]);
          await sh('umoci', ['unpack', '--image', `${dir}/layout:15`, `${dir}/bundle`]);
          return performance.now() - t0;
        } finally {
          clean(dir);
        }
      },
    },
    {
      name: 'docker pull',
      run: async () => {
        ctx.requireDocker();
        await removeImagesWithLayers('docker', img.diffIds);
        return (await sh('docker', ['pull', '-q', ref])).ms;
      },
    },
    {
      name: 'podman pull',
      run: async () => {
        ctx.requirePodman();
        await removeImagesWithLayers('podman', img.diffIds);
        return (await sh('podman', ['pull', '-q', '--tls-verify=false', ref])).ms;
      },
    },
  ];
  // Warm-up on: the first pull of a run also warms the registry's and the kernel's caches.
  await interleave(subjects, { runs: ctx.runsFor(5, 2), warmup: 1, log: ctx.log });
  // Later scenarios use the images; pulls of the fixtures that lost their base layer are quick.
  const metric = `cold pull+unpack postgres:15 (${mb.toFixed(0)} MB, ${img.layers} layers)`;
  const mbps = subjects.map((s) => ({ ...s, samples: s.samples.map((ms) => mb / (ms / 1000)) }));
  const rows = [
    ...rowsOf(label, metric, 'ms', subjects),
    ...rowsOf(label, 'pull throughput (compressed MB/s)', 'MB/s', mbps),
  ];
  if (childTotal.length) {
    const warm = childTotal.slice(1);
    rows.splice(1, 0, ...rowsOf(label, metric, 'ms', [{ name: 'slipway (process)', samples: warm, note: 'node start + imports + pull' }]));
  }
  return rows;
}

// Scenario 1: cold pull + unpack of the postgres fixture from the loopback registry.
//   slipway       pull() in a fresh Node process into an empty store ($SLIPWAY_CACHE_DIR); the time
//                 of the pull() call (a test process has slipway loaded already). A second subject,
//                 `slipway (process)`, is the whole child process, Node start and imports included.
//   skopeo+umoci  skopeo copy docker://… oci:<tmp> && umoci unpack (the same work by hand)
//   docker        docker pull into an empty store
//   podman        podman pull, likewise
//   floor         curl | gzip -dc | tar x of each layer blob (both layers at once, as the tools do), no manifest,
//                 no digest checks: the floor
// Disks ($SLIPWAY_BENCH_PULL_DISK = fresh | plain | both; default both as root, else plain; see lib/disk.mjs for why):
//   fresh  every subject pulls onto a fresh journaled ext4 loop device made for that run: slipway's store, skopeo's
//          layout, the floor's dirs, a dockerd of the bench's own (--data-root there, its own socket, exec root,
//          pidfile and bridge; started before the timed pull, stopped after; the machine's dockerd is not touched)
//          and podman's --root. Setup (mkfs, mount, the dockerd's start, podman's store init, a sync) is not timed.
//   plain  every tool on the work dir's disk, deletes between the tools, a sync only: what a user's aged disk does
//          (docker and podman are the machine's own, their images removed before each pull).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { layoutImage, removeImagesWithLayers } from '../lib/oci.mjs';
import { sh, Skip } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { interleave } from '../lib/stats.mjs';
import { BENCH_DIR } from '../lib/context.mjs';
import { canMakeFreshDisks, freshDisk, mountPoint, settle } from '../lib/disk.mjs';
import { sidePodman, startSideDockerd } from '../lib/side-engines.mjs';

export const title = 'cold pull + unpack of the postgres fixture';

export async function run(ctx, label) {
  const ref = ctx.image('postgres');
  const img = layoutImage(ctx.layout('postgres'), '15');
  const mb = img.compressedBytes / 1e6;
  ctx.note(`  ${ref}: ${mb.toFixed(1)} MB compressed in ${img.layers} layers`);
  const fresh = await canMakeFreshDisks();
  const asked = process.env.SLIPWAY_BENCH_PULL_DISK ?? (fresh ? 'both' : 'plain');
  if (!['fresh', 'plain', 'both'].includes(asked)) throw new Error(`SLIPWAY_BENCH_PULL_DISK=${asked}: expected fresh, plain or both`);
  if (asked !== 'plain' && !fresh) throw new Skip('fresh disks need root, mkfs.ext4 and mount -o loop (SLIPWAY_BENCH_PULL_DISK=plain runs without)');
  const rows = [];
  for (const disk of asked === 'both' ? ['fresh', 'plain'] : [asked]) {
    ctx.note(`  disk: ${disk === 'fresh' ? 'a fresh journaled ext4 loop device per run for every subject (docker: a dockerd of the bench\'s own; podman: --root)' : 'the work dir\'s disk as it is (deletes between tools)'}`);
    rows.push(...(await runOn(ctx, label, { ref, img, mb, disk })));
  }
  return rows;
}

async function runOn(ctx, label, { ref, img, mb, disk }) {
  const clean = (dir) => rmSync(dir, { recursive: true, force: true });
  /** A directory for one run: on a fresh disk (removed with its disk) or a plain temp dir. */
  const place = async (name) => {
    if (disk !== 'fresh') {
      const dir = ctx.tmp(name);
      return { dir, done: async () => { clean(dir); await settle(0); } };
    }
    const mnt = mountPoint(ctx, name);
    const done = await freshDisk(mnt);
    const dir = join(mnt, 'd');
    mkdirSync(dir, { mode: 0o700 });
    return { dir, done };
  };

  let childTotal = [];
  const subjects = [
    {
      name: 'slipway',
      run: async () => {
        if (!ctx.slipway) throw new Skip(ctx.slipwayError);
        const { dir: cache, done } = await place('slipway-cache');
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
          await done();
        }
      },
    },
    {
      name: 'skopeo+umoci',
      run: async () => {
        if (!ctx.tools.skopeo || !ctx.tools.umoci) throw new Skip('skopeo or umoci not installed (run: sudo bash bench/setup-peers.sh)');
        const { dir, done } = await place('skopeo');
        try {
          const t0 = performance.now();
          await sh('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}/layout:15`]);
          await sh('umoci', ['unpack', '--image', `${dir}/layout:15`, `${dir}/bundle`]);
          return performance.now() - t0;
        } finally {
          await done();
        }
      },
    },
    {
      name: 'docker pull',
      run: async () => {
        ctx.requireDocker();
        if (disk !== 'fresh') {
          await removeImagesWithLayers('docker', img.diffIds);
          await settle(0);
          return (await sh('docker', ['pull', '-q', ref])).ms;
        }
        const { dir, done } = await place('docker');
        const runDir = ctx.tmp('dockerd');
        try {
          const dockerd = await startSideDockerd(join(dir, 'docker'), runDir);
          try {
            await settle(0);
            return (await sh('docker', ['-H', dockerd.host, 'pull', '-q', ref])).ms;
          } finally {
            await dockerd.stop();
          }
        } finally {
          await done();
          clean(runDir);
        }
      },
    },
    {
      name: 'podman pull',
      run: async () => {
        ctx.requirePodman();
        const pull = ['pull', '-q', '--tls-verify=false', ref];
        if (disk !== 'fresh') {
          await removeImagesWithLayers('podman', img.diffIds);
          await settle(0);
          return (await sh('podman', pull)).ms;
        }
        const { dir, done } = await place('podman');
        const runDir = ctx.tmp('podman');
        try {
          const global = await sidePodman(join(dir, 'storage'), runDir);
          await settle(0);
          return (await sh('podman', [...global, ...pull])).ms;
        } finally {
          await done();
          clean(runDir);
        }
      },
    },
    {
      name: 'curl | gzip -dc | tar x (floor)',
      run: async () => {
        const repo = ref.slice(ref.indexOf('/') + 1, ref.lastIndexOf(':'));
        const urls = img.manifest.layers.map((l) => `http://${ctx.registry}/v2/${repo}/blobs/${l.digest}`);
        const { dir, done } = await place('floor');
        try {
          const dirs = urls.map((_, i) => join(dir, String(i)));
          for (const d of dirs) mkdirSync(d);
          await settle(0);
          const t0 = performance.now();
          await Promise.all(urls.map((u, i) => sh('bash', ['-c', 'set -o pipefail; curl -sfL "$1" | gzip -dc | tar -x -C "$2"', 'floor', u, dirs[i]])));
          return performance.now() - t0;
        } finally {
          await done();
        }
      },
    },
  ];
  // Warm-up on: the first pull of a run also warms the registry's and the kernel's caches.
  await interleave(subjects, { runs: ctx.runsFor(5, 2), warmup: 1, log: ctx.log });
  // Later scenarios use the images; pulls of the fixtures that lost their base layer are quick.
  const metric = `cold pull+unpack postgres:15 (${mb.toFixed(0)} MB, ${img.layers} layers; ${disk === 'fresh' ? 'fresh journaled disk' : 'plain disk'})`;
  const mbps = subjects.map((s) => ({ ...s, samples: s.samples.map((ms) => mb / (ms / 1000)) }));
  const rows = [
    ...rowsOf(label, metric, 'ms', subjects),
    ...rowsOf(label, `pull throughput (compressed MB/s; ${disk} disk)`, 'MB/s', mbps),
  ];
  if (childTotal.length) {
    const warm = childTotal.slice(1);
    rows.splice(1, 0, ...rowsOf(label, metric, 'ms', [{ name: 'slipway (process)', samples: warm, note: 'node start + imports + pull' }]));
  }
  return rows;
}

// Scenario 7: memory of the helper processes per running container (K idle `sleep` containers of the
// busybox fixture). RSS and PSS from /proc/<pid>/smaps_rollup; PSS splits shared pages fairly.
//   slipway  per container: its init + keeper / K; a second row adds the per-container network
//            helpers (slirp4netns or pasta, for outbound traffic), which Docker does in the kernel
//   docker   per container: its containerd-shim-runc-v2
//   podman   per container: its conmon
import { PODMAN_RUN_ARGS } from '../lib/context.mjs';
import { memoryOf, processTable, sh, sleep } from '../lib/proc.mjs';
import { rowsOf } from '../lib/report.mjs';
import { slipwayProcesses } from '../lib/slipway-procs.mjs';

export const title = 'memory of helper processes per running container';

async function measureSlipway(ctx, k) {
  const { Container, Wait } = ctx.requireSlipway();
  const started = [];
  try {
    for (let i = 0; i < k; i++) {
      started.push(await new Container(ctx.image('busybox')).withCommand(['sleep', '3600']).waitFor(Wait.none()).start());
    }
    await sleep(500);
    const procs = slipwayProcesses();
    if (!procs.keeper) throw new Error('cannot find the keeper among this process\'s children');
    if (procs.inits.length < k) throw new Error(`found ${procs.inits.length} inits for ${k} containers`);
    const sum = (ps, key) => ps.map((p) => memoryOf(p.pid)?.[key] ?? 0).reduce((a, b) => a + b, 0);
    const keeper = memoryOf(procs.keeper.pid);
    const inits = procs.inits.map((p) => memoryOf(p.pid));
    ctx.note(`  slipway: keeper ${memoryOf(procs.keeper.pid)?.rssKiB} KiB RSS; others: ${procs.others.map((p) => `${p.comm} ${memoryOf(p.pid)?.rssKiB} KiB`).join(', ') || 'none'}; inits: ${inits.map((m) => m?.rssKiB).join(', ')} KiB`);
    // Network helpers (slirp4netns/pasta, one per container) are shared out over the K containers too.
    const netRss = sum(procs.others, 'rssKiB'), netPss = sum(procs.others, 'pssKiB');
    return {
      rss: inits.map((m) => m.rssKiB + keeper.rssKiB / k),
      pss: inits.map((m) => m.pssKiB + keeper.pssKiB / k),
      rssNet: procs.others.length ? inits.map((m) => m.rssKiB + (keeper.rssKiB + netRss) / k) : undefined,
      pssNet: procs.others.length ? inits.map((m) => m.pssKiB + (keeper.pssKiB + netPss) / k) : undefined,
      netNames: [...new Set(procs.others.map((p) => p.comm))].join('+'),
      detail: { keeper: memoryOf(procs.keeper.pid), others: procs.others.map((p) => ({ comm: p.comm, ...memoryOf(p.pid) })), inits },
    };
  } finally {
    await Promise.allSettled(started.map((c) => c.remove()));
  }
}

async function measureShims(ctx, cli, k) {
  const ref = cli === 'docker' ? await ctx.dockerImage('busybox') : await ctx.podmanImage('busybox');
  const extra = cli === 'podman' ? PODMAN_RUN_ARGS : [];
  const ids = [];
  try {
    for (let i = 0; i < k; i++) ids.push((await sh(cli, ['run', '-d', '--network', 'none', ...extra, ref, 'sleep', '3600'])).stdout.trim());
    await sleep(500);
    const comm = cli === 'docker' ? /^containerd-shim/ : /^conmon$/;
    const shims = [...processTable().values()].filter((p) => comm.test(p.comm) && ids.some((id) => p.cmdline.join(' ').includes(id)));
    if (shims.length !== k) throw new Error(`found ${shims.length} ${cli} shims for ${k} containers`);
    const mem = shims.map((p) => memoryOf(p.pid));
    return { rss: mem.map((m) => m.rssKiB), pss: mem.map((m) => m.pssKiB) };
  } finally {
    if (ids.length) await sh(cli, ['rm', '-f', ...ids], { allowFail: true });
  }
}

export async function run(ctx, label) {
  const k = ctx.opts.quick ? 3 : 10;
  const subjects = [
    { name: 'slipway', measure: () => measureSlipway(ctx, k) },
    { name: 'docker (containerd-shim)', measure: () => { ctx.requireDocker(); return measureShims(ctx, 'docker', k); } },
    { name: 'podman (conmon)', measure: () => { ctx.requirePodman(); return measureShims(ctx, 'podman', k); } },
  ];
  const rss = [], pss = [];
  for (const s of subjects) {
    try {
      const m = await s.measure();
      rss.push({ name: s.name, samples: m.rss });
      pss.push({ name: s.name, samples: m.pss });
      if (m.rssNet) {
        rss.push({ name: `${s.name} + ${m.netNames}`, samples: m.rssNet });
        pss.push({ name: `${s.name} + ${m.netNames}`, samples: m.pssNet });
      }
    } catch (e) {
      rss.push({ name: s.name, error: e });
      pss.push({ name: s.name, error: e });
    }
  }
  return [
    ...rowsOf(label, `helper RSS per container (${k} running)`, 'KiB', rss),
    ...rowsOf(label, `helper PSS per container (${k} running)`, 'KiB', pss),
  ];
}

/**
 * Soak: many start/stop and restart cycles with a user network, a published port and limits, then
 * checks that nothing grows beyond noise: Node fds and heap, keeper fds and RSS, processes under the
 * keeper, slirp4netns/pasta helpers, mounts, state dirs and cgroups. The Node heap is judged by its growth per cycle
 * over the whole run (see {@link heapGrowth}), not by two samples: one sample moved by ±20 MiB between runs.
 *
 * Cycles: SLIPWAY_SOAK_CYCLES (default 1000 start/stop) and SLIPWAY_SOAK_RESTARTS (default 100).
 * Run: npx vitest run --project soak
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container, Network } from '../../src/index.js';
import { Keeper } from '../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, isRoot, skipUnless, userNamespacesAllowed } from '../integration/harness/index.js';

const CYCLES = Number(process.env.SLIPWAY_SOAK_CYCLES ?? 1000);
const RESTARTS = Number(process.env.SLIPWAY_SOAK_RESTARTS ?? 100);
const WARMUP = 20;

interface Sample {
  nodeFds: number; heapMiB: number; keeperFds: number; keeperRssKiB: number; keeperDescendants: number;
  outboundHelpers: number; keeperMounts: number; stateEntries: number; cgroups: number;
}

function count(dir: string): number {
  try { return readdirSync(dir).length; } catch { return 0; }
}

/** Every live process with its parent pid and command name, read once from /proc. */
function processTable(): Map<number, { ppid: number; comm: string }> {
  const table = new Map<number, { ppid: number; comm: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      table.set(Number(name), { ppid, comm });
    } catch { /* exited while we read */ }
  }
  return table;
}

function descendants<T extends { ppid: number }>(table: Map<number, T>, root: number): T[] {
  const found: T[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.pop()!;
    for (const [pid, info] of table) if (info.ppid === p) { found.push(info); queue.push(pid); }
  }
  return found;
}

/** Containers this test started; other tests on the machine may own other cgroups under the same parents. */
const ours = new Set<string>();

/** cgroups of our containers under every v1 controller (as root) and the cgroup2 mount. */
function cgroupCount(): number {
  let n = 0;
  for (const ctrl of ['memory', 'pids', 'cpu', 'cpu,cpuacct', 'unified', '']) {
    const dir = join('/sys/fs/cgroup', ctrl, 'slipway');
    if (existsSync(dir)) n += readdirSync(dir).filter((id) => ours.has(id)).length;
  }
  return n;
}

function sample(keeper: Keeper): Sample {
  gc();
  const table = processTable();
  const status = readFileSync(`/proc/${keeper.pid}/status`, 'utf8');
  return {
    nodeFds: count('/proc/self/fd'),
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
    keeperFds: count(`/proc/${keeper.pid}/fd`),
    keeperRssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
    keeperDescendants: descendants(table, keeper.pid).length,
    outboundHelpers: descendants(table, process.pid).filter((p) => /^(slirp4netns|pasta|passt|setpriv)/.test(p.comm)).length,
    keeperMounts: readFileSync(`/proc/${keeper.pid}/mountinfo`, 'utf8').split('\n').length,
    stateEntries: count(keeper.stateDir),
    cgroups: cgroupCount(),
  };
}

const EXACT = ['nodeFds', 'keeperFds', 'keeperDescendants', 'outboundHelpers', 'keeperMounts', 'stateEntries', 'cgroups'] as const;

/**
 * Samples until the counts are back to `before`, for at most 3 s: teardown that finishes asynchronously (a keeper worker
 * removing a dir, a helper exiting) may still hold an fd or a process at the first look; a leak stays.
 */
async function settledSample(keeper: Keeper, before: Sample): Promise<Sample> {
  let after = sample(keeper);
  for (let i = 0; i < 30 && EXACT.some((k) => after[k] > before[k]); i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = sample(keeper);
  }
  return after;
}

/** A baseline without transients: the smaller of each count over two looks 300 ms apart. */
async function baseline(keeper: Keeper): Promise<Sample> {
  const first = sample(keeper);
  await new Promise((r) => setTimeout(r, 300));
  const second = sample(keeper);
  for (const k of EXACT) second[k] = Math.min(first[k], second[k]);
  return second;
}

/** Counts may not grow at all; the keeper's RSS by noise only (the Node heap: {@link heapGrowth}). */
function expectNoGrowth(before: Sample, after: Sample, label: string): void {
  const exact = EXACT;
  for (const k of exact) expect(after[k], `${label}: ${k} (before ${before[k]}, after ${after[k]})`).toBeLessThanOrEqual(before[k]);
  expect(after.keeperRssKiB, `${label}: keeper RSS KiB`).toBeLessThan(before.keeperRssKiB * 1.25 + 1024);
}

/**
 * A heap growing by this many bytes per cycle fails the soak. Measured (root, 200 cycles and 40 restarts, load ~20):
 * clean 1515 and 1049 B per cycle (warm-up and this file's own id set); one StartedContainer kept per start (a leak
 * put in start.ts for the measurement, not committed) 9190 B per cycle.
 */
const LEAK_BYTES_PER_CYCLE = 4096;
/** Heap samples per run: enough for the median slope to shrug off a few outliers and one step. */
const HEAP_SAMPLES = 40;

/**
 * A full collection. The soak project's `execArgv: ['--expose-gc']` does not reach vitest's forks (globalThis.gc was
 * undefined, so every heap sample before this counted live garbage): the flag is set here, and a new context sees gc.
 */
setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as () => void);

/** The Node heap after two full collections a turn apart (the first frees what a finalizer or a weak ref held). */
async function settledHeap(): Promise<number> {
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Heap growth in bytes per cycle: the Theil-Sen estimate (the median of the slopes between every two samples) over
 * samples taken through the run. A leak raises every later sample, so most pairwise slopes carry it; garbage still in
 * flight at one sample, or one step (a cache filled once), moves only the pairs that include it, and the median not.
 */
function heapGrowth(samples: readonly (readonly [cycle: number, bytes: number])[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) slopes.push((samples[j]![1] - samples[i]![1]) / (samples[j]![0] - samples[i]![0]));
  }
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

/** Runs `cycles` cycles, sampling the settled heap through them; expects no growth beyond noise. */
async function expectNoHeapLeak(cycles: number, cycle: () => Promise<void>, label: string): Promise<void> {
  const every = Math.max(1, Math.floor(cycles / HEAP_SAMPLES));
  const samples: (readonly [number, number])[] = [];
  for (let i = 0; i < cycles; i++) {
    if (i % every === 0) samples.push([i, await settledHeap()]);
    await cycle();
  }
  samples.push([cycles, await settledHeap()]);
  const growth = heapGrowth(samples);
  console.log(`soak ${label} heap`, JSON.stringify({ bytesPerCycle: Math.round(growth), firstMiB: +(samples[0]![1] / 2 ** 20).toFixed(1), lastMiB: +(samples.at(-1)![1] / 2 ** 20).toFixed(1), samples: samples.length }));
  expect(growth, `${label}: Node heap grows ${Math.round(growth)} bytes per cycle (median slope of ${samples.length} samples)`).toBeLessThan(LEAK_BYTES_PER_CYCLE);
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('soak', () => {
  let network: Network;
  let keeper: Keeper;
  const image = (): string => fixtureRef('busybox');
  // Limits are real cgroups as root; rootless on this hybrid host they cannot be enforced (best effort).
  const limited = (c: Container): Container => (isRoot() ? c : c.withBestEffortLimits()).withMemory('64m').withPids(64);

  beforeAll(async () => {
    network = await Network.create();
    keeper = await Keeper.get();
  });
  afterAll(async () => { await network?.remove(); });

  it(`${CYCLES} start/stop cycles (isolated and on a user network) with a port and limits leave nothing behind`, async () => {
    // Alternate a user-network member and an isolated container (slirp4netns/pasta for outbound).
    const isolated = limited(new Container(image())).expose(8080).withCommand(['httpd', '-f', '-p', '8080']);
    const member = isolated.withNetwork(network, { aliases: ['web'] });
    let n = 0;
    const cycle = async (): Promise<void> => {
      const c = await (n++ % 2 ? isolated : member).start();
      ours.add(c.id);
      expect(c.getMappedPort(8080)).toBeGreaterThan(0);
      await c.stop({ timeout: 1000 });
      await c.remove();
    };
    for (let i = 0; i < WARMUP; i++) await cycle();
    const before = await baseline(keeper);
    await expectNoHeapLeak(CYCLES, cycle, 'start/stop');
    const after = await settledSample(keeper, before);
    console.log('soak start/stop', JSON.stringify({ cycles: CYCLES, before, after }));
    expectNoGrowth(before, after, 'start/stop');
  }, 3_600_000);

  it(`${RESTARTS} restarts of one container leave nothing behind`, async () => {
    const c = await limited(new Container(image())).expose(8080).withCommand(['httpd', '-f', '-p', '8080']).start();
    ours.add(c.id);
    try {
      for (let i = 0; i < 5; i++) await c.restart({ timeout: 1000 });
      const before = await baseline(keeper);
      await expectNoHeapLeak(RESTARTS, () => c.restart({ timeout: 1000 }).then(() => undefined), 'restart');
      const after = await settledSample(keeper, before);
      console.log('soak restart', JSON.stringify({ restarts: RESTARTS, before, after }));
      expectNoGrowth(before, after, 'restart');
    } finally {
      await c.remove();
    }
  }, 3_600_000);
});

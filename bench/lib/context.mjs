// What every scenario gets: options, the fixture images and a registry serving them, slipway (or why
// it cannot be loaded), and which peers answer on this machine.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { has, sh, Skip } from './proc.mjs';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
export const FIXTURES_DIR = process.env.SLIPWAY_FIXTURES_DIR || '/var/cache/slipway-fixtures';
const PEER_STATE = '/var/cache/slipway-bench';

/** Podman needs rlimits it is allowed to set here (its defaults exceed this VM's hard limits). */
export const PODMAN_RUN_ARGS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

/**
 * @param {{runs?: number, quick: boolean, only?: string[], verbose: boolean}} opts
 */
export async function createContext(opts) {
  const log = (s) => { if (opts.verbose) process.stderr.write(`${s}\n`); };
  const note = (s) => process.stderr.write(`[bench] ${s}\n`);
  const work = mkdtempSync(join(process.env.SLIPWAY_BENCH_TMP || '/var/tmp', 'slipway-bench-'));
  const cleanups = [];
  const ctx = {
    opts, log, note, work,
    /** Runs `fn` when the bench ends (last registered first). */
    defer(fn) { cleanups.push(fn); },
    async close() {
      for (const fn of cleanups.reverse()) { try { await fn(); } catch (e) { note(`cleanup: ${e.message}`); } }
      rmSync(work, { recursive: true, force: true });
    },
    runsFor(defaultRuns, quickRuns = Math.max(1, Math.ceil(defaultRuns / 4))) {
      return opts.runs ?? (opts.quick ? quickRuns : defaultRuns);
    },
  };

  // -- fixtures and registry -------------------------------------------------------------------
  ctx.fixtures = undefined;
  ctx.fixturesError = undefined;
  try {
    ctx.fixtures = JSON.parse(readFileSync(join(FIXTURES_DIR, 'fixtures.json'), 'utf8'));
  } catch {
    ctx.fixturesError = `no fixture images at ${FIXTURES_DIR} (build them: sudo bash scripts/setup-host.sh)`;
  }
  ctx.registry = undefined;
  ctx.registryError = ctx.fixturesError;
  if (process.env.SLIPWAY_BENCH_REGISTRY) {
    ctx.registry = process.env.SLIPWAY_BENCH_REGISTRY;
    ctx.registryError = undefined;
  } else if (ctx.fixtures) {
    try {
      const { startTestRegistries } = await import(join(REPO_DIR, 'scripts/registry.mjs'));
      const r = await startTestRegistries();
      ctx.registry = r.address;
      ctx.registryError = undefined;
      ctx.defer(() => r.stop());
      note(`registry at ${r.address} (${r.seeded ? 'seeded storage' : 'pushed now'})`);
    } catch (e) {
      ctx.registryError = `cannot start the loopback registry: ${e.message}`;
    }
  }
  /** Registry reference of a fixture, e.g. image('postgres') → 127.0.0.1:P/library/postgres:15. */
  ctx.image = (name) => {
    if (!ctx.registry) throw new Skip(ctx.registryError);
    const tag = { postgres: '15', redis: '7', debian: '12', busybox: 'latest', nginx: '1' }[name] ?? 'latest';
    return `${ctx.registry}/library/${name}:${tag}`;
  };
  /** OCI layout of a fixture (for skopeo/umoci/podman). */
  ctx.layout = (name) => {
    if (!ctx.fixtures) throw new Skip(ctx.fixturesError);
    return join(FIXTURES_DIR, ctx.fixtures.images[name].layout);
  };

  // -- slipway -----------------------------------------------------------------------------------
  ctx.slipway = undefined;
  ctx.slipwayError = undefined;
  const dist = join(REPO_DIR, 'dist/esm/index.js');
  if (!existsSync(dist)) {
    ctx.slipwayError = 'slipway is not built (run: npm run build)';
  } else {
    try {
      ctx.slipway = await import(dist);
    } catch (e) {
      ctx.slipwayError = `slipway failed to load: ${e.message.split('\n')[0]}`;
    }
  }
  ctx.requireSlipway = () => {
    if (!ctx.slipway) throw new Skip(ctx.slipwayError);
    return ctx.slipway;
  };

  // -- peers ---------------------------------------------------------------------------------------
  ctx.tools = {};
  for (const t of ['docker', 'podman', 'skopeo', 'umoci', 'slirp4netns', 'pasta', 'runc', 'psql', 'gcc']) ctx.tools[t] = await has(t);
  ctx.docker = false;
  ctx.dockerError = 'no docker command (run: sudo bash bench/setup-peers.sh)';
  if (ctx.tools.docker) {
    const r = await sh('docker', ['version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: 10_000 });
    ctx.docker = r.code === 0;
    if (!ctx.docker) ctx.dockerError = 'no Docker engine answers (start one: sudo bash bench/setup-peers.sh)';
  }
  ctx.requireDocker = () => { if (!ctx.docker) throw new Skip(ctx.dockerError); };
  ctx.podmanError = undefined;
  if (!ctx.tools.podman) ctx.podmanError = 'podman not installed (run: sudo bash bench/setup-peers.sh)';
  else {
    try {
      const status = readFileSync(join(PEER_STATE, 'podman.status'), 'utf8').trim();
      if (!status.startsWith('ok')) ctx.podmanError = status.replace(/^skip: /, '');
    } catch {
      ctx.podmanError = 'podman was never tried here (run: sudo bash bench/setup-peers.sh)';
    }
  }
  ctx.requirePodman = () => { if (ctx.podmanError) throw new Skip(ctx.podmanError); };
  // Ryuk would be pulled from Docker Hub; this machine has no internet, and the bench stops what it starts.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  ctx.testcontainers = undefined;
  ctx.testcontainersError = undefined;
  try {
    ctx.testcontainers = await import('testcontainers');
  } catch (e) {
    ctx.testcontainersError = `testcontainers-node not installed (npm install): ${e.message.split('\n')[0]}`;
  }
  ctx.requireTestcontainers = () => {
    ctx.requireDocker();
    if (!ctx.testcontainers) throw new Skip(ctx.testcontainersError);
    return ctx.testcontainers;
  };

  /** Makes sure Docker has a fixture image under its registry name (pulled from the loopback registry). */
  ctx.dockerImage = async (name) => {
    ctx.requireDocker();
    const ref = ctx.image(name);
    const r = await sh('docker', ['image', 'inspect', ref], { allowFail: true });
    if (r.code !== 0) await sh('docker', ['pull', '-q', ref]);
    return ref;
  };
  /** Makes sure Podman has a fixture image under its registry name. */
  ctx.podmanImage = async (name) => {
    ctx.requirePodman();
    const ref = ctx.image(name);
    const r = await sh('podman', ['image', 'exists', ref], { allowFail: true });
    if (r.code !== 0) await sh('podman', ['pull', '-q', '--tls-verify=false', ref]);
    return ref;
  };
  ctx.tmp = (prefix) => mkdtempSync(join(work, `${prefix}-`));
  return ctx;
}

export { tmpdir };

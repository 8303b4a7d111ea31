// A SIGKILLed vitest or jest main process: its forked worker lives on until its file ends (neither
// runner's workers watch their parent), but the worker's containers must go at once. The keeper watches the run's main
// process: given by slipway/vitest's globalSetup (SLIPWAY_RUN_PID), or found as the parent of a
// forked worker without any slipway helper. On an engine the session's watchdog watches the same processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureRef, until } from '../harness/index.js';
import { processGone } from '../keeper/fixture.js';

const FIXTURES = join(import.meta.dirname, '../../runner-fixtures');
const require = createRequire(import.meta.url);
const VITEST = join(require.resolve('vitest/package.json'), '..', 'vitest.mjs');
const JEST = join(require.resolve('jest/package.json'), '..', 'bin', 'jest.js');
const DIST = join(import.meta.dirname, '../../../dist/cjs/index.js');
const noDist = existsSync(DIST) ? false : 'the jest fixture requires the CommonJS build: run npm run build';
if (noDist) console.warn(`!! SKIPPED jest orphan tests: ${noDist}`);

type Runner = 'vitest' | 'jest';
/** Whether the engine still has container `id` (on the engine the session's watchdog must remove it). */
function engineHas(id: string): boolean {
  const r = spawnSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `id=${id}`], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`docker ps failed: ${r.stderr}`);
  return r.stdout.includes(id);
}
function runnerArgs(runner: Runner): string[] {
  if (runner === 'vitest') {
    const dir = join(FIXTURES, 'vitest-orphan');
    return [VITEST, 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs'), '--configLoader', 'runner'];
  }
  return [JEST, '--config', join(FIXTURES, 'jest-orphan', 'jest.config.cjs')];
}

interface Held { engineId?: string; workerPid: number; mainPid: number; keeperPid: number; initPid: number; children: number[]; keeperDir: string; cgroups: string[] }

describe('a SIGKILLed vitest or jest run takes its workers\' containers with it', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  async function killedRun(runner: Runner, env: Record<string, string>): Promise<Held> {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-orphan-'));
    const out = join(dir, 'held.json');
    let main: ChildProcess | undefined;
    let held: Held | undefined;
    cleanup.push(() => {
      main?.kill('SIGKILL');
      // The orphaned worker would sleep out its test: end it (we know its pid; it is ours).
      if (held && !processGone(held.workerPid)) process.kill(held.workerPid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const { SLIPWAY_RUN_PID: _, VITEST_POOL_ID: __, VITEST_WORKER_ID: ___, TINYPOOL_WORKER_ID: ____, JEST_WORKER_ID: _____, ...base } = process.env;
    main = spawn(process.execPath, runnerArgs(runner), {
      cwd: FIXTURES,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...base, ...env, FIXTURE_IMAGE: fixtureRef('busybox'), FIXTURE_OUT: out, FIXTURE_CACHE_DIR: join(dir, 'cache') },
    });
    const exited = new Promise((r) => main!.on('exit', r));
    await until(() => existsSync(out) || main!.exitCode !== null, 120_000);
    expect(existsSync(out), 'the fixture run ended before its container started').toBe(true);
    held = JSON.parse(readFileSync(out, 'utf8')) as Held;
    expect(held.mainPid).toBe(main.pid);
    if (held.engineId) {
      expect([held.initPid, ...held.children].some(processGone)).toBe(false);
      expect(engineHas(held.engineId)).toBe(true);
      main.kill('SIGKILL');
      await exited;
      return held;
    }
    expect([held.initPid, held.keeperPid, ...held.children].some(processGone)).toBe(false);
    expect(existsSync(held.keeperDir)).toBe(true);
    if (process.getuid!() === 0) expect(held.cgroups.length).toBeGreaterThan(0);
    for (const cg of held.cgroups) expect(existsSync(cg)).toBe(true);

    main.kill('SIGKILL');
    await exited;
    return held;
  }

  function gone(h: Held): boolean {
    if (h.engineId) return [h.initPid, ...h.children].every(processGone) && !engineHas(h.engineId);
    return [h.initPid, h.keeperPid, ...h.children].every(processGone) && !existsSync(h.keeperDir) && h.cgroups.every((cg) => !existsSync(cg));
  }

  for (const runner of ['vitest', 'jest'] as const) {
    const skip = runner === 'jest' ? noDist : false;
    it.skipIf(skip)(`${runner}: without any slipway helper (the forked worker's parent is watched)`, async () => {
      const held = await killedRun(runner, {});
      // The bound only keeps a failure from hanging the suite: teardown is one scheduling round.
      await until(() => gone(held), 10_000);
      // The worker itself is orphaned but still alive: the containers did not wait for it.
      expect(processGone(held.workerPid)).toBe(false);
    });

    it.skipIf(skip)(`${runner}: with slipway/${runner}'s globalSetup (SLIPWAY_RUN_PID)`, async () => {
      const held = await killedRun(runner, { FIXTURE_GLOBAL_SETUP: '1' });
      await until(() => gone(held), 10_000);
      expect(processGone(held.workerPid)).toBe(false);
    });
  }
});

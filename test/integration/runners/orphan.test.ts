// A SIGKILLed vitest main process: its forked worker lives on until its file ends (vitest does not
// watch its parent), but the worker's containers must go at once. The keeper watches the run's main
// process: given by slipway/vitest's globalSetup (SLIPWAY_RUN_PID), or found as the parent of a
// forked worker without any slipway helper.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureRef, until } from '../harness/index.js';
import { processGone } from '../keeper/fixture.js';

const FIXTURE = join(import.meta.dirname, '../../runner-fixtures/vitest-orphan');
const VITEST = join(createRequire(import.meta.url).resolve('vitest/package.json'), '..', 'vitest.mjs');

interface Held { workerPid: number; mainPid: number; keeperPid: number; initPid: number; children: number[]; keeperDir: string; cgroups: string[] }

describe('a SIGKILLed vitest run takes its workers\' containers with it', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  async function killedRun(env: Record<string, string>): Promise<Held> {
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
    const { SLIPWAY_RUN_PID: _, VITEST_POOL_ID: __, VITEST_WORKER_ID: ___, TINYPOOL_WORKER_ID: ____, ...base } = process.env;
    main = spawn(process.execPath, [VITEST, 'run', '--root', FIXTURE, '--config', join(FIXTURE, 'vitest.config.mjs'), '--configLoader', 'runner'], {
      cwd: FIXTURE,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...base, ...env, FIXTURE_IMAGE: fixtureRef('busybox'), FIXTURE_OUT: out, FIXTURE_CACHE_DIR: join(dir, 'cache') },
    });
    const exited = new Promise((r) => main!.on('exit', r));
    await until(() => existsSync(out) || main!.exitCode !== null, 120_000);
    expect(existsSync(out), 'the fixture run ended before its container started').toBe(true);
    held = JSON.parse(readFileSync(out, 'utf8')) as Held;
    expect(held.mainPid).toBe(main.pid);
    expect([held.initPid, held.keeperPid, ...held.children].some(processGone)).toBe(false);
    expect(existsSync(held.keeperDir)).toBe(true);
    if (process.getuid!() === 0) expect(held.cgroups.length).toBeGreaterThan(0);
    for (const cg of held.cgroups) expect(existsSync(cg)).toBe(true);

    main.kill('SIGKILL');
    await exited;
    return held;
  }

  function gone(h: Held): boolean {
    return [h.initPid, h.keeperPid, ...h.children].every(processGone) && !existsSync(h.keeperDir) && h.cgroups.every((cg) => !existsSync(cg));
  }

  it('without any slipway helper (the forked worker\'s parent is watched)', async () => {
    const held = await killedRun({});
    // The bound only keeps a failure from hanging the suite: teardown is one scheduling round.
    await until(() => gone(held), 10_000);
    // The worker itself is orphaned but still alive: the containers did not wait for it.
    expect(processGone(held.workerPid)).toBe(false);
  });

  it('with slipway/vitest\'s globalSetup (SLIPWAY_RUN_PID)', async () => {
    const held = await killedRun({ FIXTURE_GLOBAL_SETUP: '1' });
    await until(() => gone(held), 10_000);
    expect(processGone(held.workerPid)).toBe(false);
  });
});

// A script that returns while it holds a container exits by itself as natively, on either backend:
// - a container kept with withReuse() is not the process's (natively the reuse keeper's; on an engine it stays in the
//   engine, as testcontainers leaves it): the process exits at once. On the engine the followed log stream and the
//   `POST /wait` long-poll of the reused container kept it alive forever (they now sit on unreferenced connections).
// - its own container keeps it alive while it runs, as a running child process does (natively the keeper's exit
//   waiter is referenced from START on, b115ee9): once the container's command ends the process exits, and what it
//   made is removed (the keeper's teardown chain natively, the watchdog on an engine).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { engineRuntime, fixtureRef, helperBuilt, skipUnless, spawnTsChild, until, userNamespacesAllowed } from '../harness/index.js';

interface ChildInfo { id: string; reused: boolean }

// Natively each test has a private state root (its keepers' dirs are checked, and the reuse keeper's short idle
// timeout removes the reused container soon after). On the engine the reused container is removed here.
const stateDirs: string[] = [];
const engineMade: string[] = [];
afterAll(async () => {
  if (engineMade.length) execFileSync('docker', ['rm', '-f', ...engineMade], { stdio: 'ignore' });
  // Natively the reuse keeper removes its container and its keeper's dir after its idle timeout: not under its feet.
  const keepersLeft = () => stateDirs.some((d) => readdirSync(d).some((n) => n.startsWith('keeper-')));
  await until(() => !keepersLeft(), 60_000).catch(() => undefined);
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
});

function child(extra: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; info: ChildInfo; stateDir: string }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'slipway-script-exit-'));
  stateDirs.push(stateDir);
  return spawnTsChild<ChildInfo>(join(import.meta.dirname, 'script-exit-child.mts'), {
    SLIPWAY_STATE_DIR: stateDir, SLIPWAY_REUSE_IDLE_TIMEOUT: '2000', EXIT_REF: fixtureRef('busybox'), EXIT_SALT: String(process.pid), ...extra,
  }).then((r) => {
    if (engineRuntime()) engineMade.push(r.info.id);
    return { ...r, stateDir };
  });
}
function inEngine(id: string): boolean {
  try { execFileSync('docker', ['inspect', '-f', '{{.Id}}', id], { stdio: 'ignore' }); return true; } catch { return false; }
}
/** The child's exit code, or a string saying it did not exit: a generous bound that only catches a hang. */
async function exitOf(child: ChildProcess): Promise<number | null | string> {
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000).unref())]);
  if (typeof code === 'string') child.kill('SIGKILL');
  return code;
}

skipUnless(engineRuntime() || (helperBuilt() && userNamespacesAllowed()), 'the native helper is not built or user namespaces are unavailable')('a script that returns while it holds a container', () => {
  it('exits by itself when the container was kept with withReuse(), which stays for its next user', async () => {
    const { child: c, info } = await child({ EXIT_REUSE: '1' });
    expect(info.reused).toBe(false);
    expect(await exitOf(c)).toBe(0);
    // On the engine nothing removes it (natively the reuse keeper does after its idle timeout, 2 s here).
    if (engineRuntime()) expect(inEngine(info.id)).toBe(true);
  });

  it('exits by itself once its own container\'s command ended, and the container is removed', async () => {
    const { child: c, info, stateDir } = await child({ EXIT_BRIEF: '1' });
    expect(info.reused).toBe(false);
    expect(await exitOf(c)).toBe(0);
    if (engineRuntime()) {
      await until(() => !inEngine(info.id), 20_000).catch(() => undefined);
      expect(inEngine(info.id)).toBe(false);
    } else {
      const keeperDirs = () => readdirSync(stateDir).filter((n) => n.startsWith('keeper-'));
      await until(() => keeperDirs().length === 0, 20_000).catch(() => undefined);
      expect(keeperDirs()).toEqual([]);
    }
  });
});

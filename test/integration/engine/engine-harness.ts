import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * Whether the engine tests run: only in the engine pass (`scripts/test-engine.sh` sets SLIPWAY_ENGINE_TESTS=1), and only
 * when `docker version` reaches an engine (the CLI follows DOCKER_HOST as slipway does). A dockerd that happens to run
 * during the native passes does not pull these files into them.
 */
export function engineAvailable(): boolean {
  if (process.env.SLIPWAY_ENGINE_TESTS !== '1') return false;
  const r = spawnSync('docker', ['version', '--format', '{{.Server.APIVersion}}'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  return r.status === 0 && /^\d+\.\d+/.test(r.stdout.toString());
}

/**
 * Build contexts and engine images a test file makes, removed after its tests: `tree()` writes files into a fresh
 * temp dir and returns it; a ref pushed onto `images` is `docker rmi -f`'d.
 */
export function buildScratch(prefix: string): { tree(files: Record<string, string>): string; images: string[] } {
  const dirs: string[] = [];
  const images: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const i of images) { try { execFileSync('docker', ['rmi', '-f', i], { stdio: 'ignore' }); } catch { /* already gone */ } }
  });
  const tree = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    return dir;
  };
  return { tree, images };
}

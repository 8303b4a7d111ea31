import { spawnSync } from 'node:child_process';

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

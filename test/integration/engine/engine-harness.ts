import { spawnSync } from 'node:child_process';

/** Whether `docker version` reaches an engine (the CLI follows DOCKER_HOST as slipway does). */
export function engineAvailable(): boolean {
  const r = spawnSync('docker', ['version', '--format', '{{.Server.APIVersion}}'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  return r.status === 0 && /^\d+\.\d+/.test(r.stdout.toString());
}

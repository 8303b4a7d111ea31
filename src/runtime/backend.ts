/**
 * Which runtime runs this process's containers: `native` (the keeper, user namespaces) or `engine` (a Docker or
 * Podman Engine API). Chosen once per process from the `runtime` setting (`SLIPWAY_RUNTIME`, a config file):
 * `auto` takes native when a user namespace can be made here, else the first engine that answers. The choice and
 * why are logged under `DEBUG=slipway:runtime` and shown by `slipway info`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { configValue } from '../config/index.js';
import { EngineClient } from '../engine/client.js';
import { describeEndpoint, engineCandidates, realHost, type EngineEndpoint } from '../engine/endpoint.js';

const log = logger('runtime');

/** The runtime chosen, why, and for `engine` where it answers. */
export interface RuntimeSelection {
  kind: 'native' | 'engine';
  reason: string;
  endpoint?: EngineEndpoint;
}

let chosen: Promise<RuntimeSelection> | undefined;

/** Whether this machine lets this user make a user namespace (what the native runtime needs). */
export function userNamespacesUsable(): { ok: boolean; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `${process.platform} has no Linux user namespaces` };
  const read = (f: string): string | undefined => { try { return readFileSync(f, 'utf8').trim(); } catch { return undefined; } };
  if (read('/proc/sys/user/max_user_namespaces') === '0') return { ok: false, why: 'user.max_user_namespaces is 0' };
  if (process.getuid?.() !== 0) {
    if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') return { ok: false, why: 'kernel.unprivileged_userns_clone is 0' };
  }
  // The sysctls do not tell everything (AppArmor's restriction, seccomp in a container): try one.
  const probe = spawnSync('unshare', ['--user', 'true'], { stdio: 'ignore', timeout: 5000 });
  if (probe.error) return { ok: true, why: 'the sysctls allow user namespaces (no unshare(1) to try one)' };
  return probe.status === 0 ? { ok: true, why: 'a user namespace can be made here' } : { ok: false, why: `unshare --user failed (exit ${probe.status ?? probe.signal})` };
}

/** The first engine that answers `/_ping`, with every address tried. */
export async function findEngine(env: NodeJS.ProcessEnv = process.env): Promise<{ endpoint?: EngineEndpoint; tried: string[]; failure?: SlipwayError }> {
  const tried: string[] = [];
  let failure: SlipwayError | undefined;
  for (const endpoint of engineCandidates(realHost(env))) {
    const client = new EngineClient(endpoint);
    const problem = await client.probe();
    await client.close();
    tried.push(`${describeEndpoint(endpoint)} (${endpoint.source}): ${problem ? `no answer (${problem.message})` : 'answers'}`);
    if (!problem) return { endpoint, tried };
    // An engine that answers but refuses the TLS handshake is a configuration to fix, not an absent engine.
    if (SlipwayError.is(problem)) failure ??= problem;
  }
  return { tried, ...(failure ? { failure } : {}) };
}

async function select(): Promise<RuntimeSelection> {
  const setting = configValue('runtime');
  if (setting === 'native') return { kind: 'native', reason: 'runtime setting is native' };
  if (setting === 'auto') {
    const userns = userNamespacesUsable();
    if (userns.ok) return { kind: 'native', reason: `auto: ${userns.why}` };
    const { endpoint, tried, failure } = await findEngine();
    if (endpoint) return { kind: 'engine', endpoint, reason: `auto: ${userns.why}; using the engine at ${describeEndpoint(endpoint)} (${endpoint.source})` };
    if (failure) throw failure;
    throw new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `no runtime: ${userns.why}, and no Docker or Podman engine answered`, {
      hint: 'enable user namespaces (see the README), or start Docker/Podman, or set DOCKER_HOST',
      details: tried.length ? `tried:\n  ${tried.join('\n  ')}` : 'no engine socket found (DOCKER_HOST unset, no docker context, no known socket)',
    });
  }
  const { endpoint, tried, failure } = await findEngine();
  if (endpoint) return { kind: 'engine', endpoint, reason: `runtime setting is engine; the engine at ${describeEndpoint(endpoint)} (${endpoint.source}) answers` };
  if (failure) throw failure;
  throw new SlipwayError('ERR_RUNTIME_UNAVAILABLE', 'the runtime setting is engine, but no Docker or Podman engine answered', {
    hint: 'start Docker or Podman, or set DOCKER_HOST (unix:///path or tcp://host:port); SLIPWAY_RUNTIME=native runs without one',
    details: tried.length ? `tried:\n  ${tried.join('\n  ')}` : 'no engine socket found (DOCKER_HOST unset, no docker context, no known socket)',
  });
}

/** The runtime of this process (chosen on first use, then fixed). */
export function selectRuntime(): Promise<RuntimeSelection> {
  chosen ??= select().then((s) => { log('runtime %s: %s', s.kind, s.reason); return s; });
  chosen.catch(() => { chosen = undefined; });
  return chosen;
}

/** True when the `runtime` setting alone says native (no discovery, no await): the native path stays as it was. */
export function nativeBySetting(): boolean {
  return configValue('runtime') === 'native';
}

/**
 * What `slipway info` shows: the runtime a process with this setting and environment would use, and why (probes
 * engines for `engine` and `auto`; an unavailable runtime is reported, not thrown).
 */
export async function describeRuntime(setting: 'native' | 'engine' | 'auto', env: NodeJS.ProcessEnv = process.env): Promise<{ kind: 'native' | 'engine' | 'none'; reason: string; engine?: string }> {
  if (setting === 'native') return { kind: 'native', reason: 'runtime setting is native' };
  if (setting === 'auto') {
    const userns = userNamespacesUsable();
    if (userns.ok) return { kind: 'native', reason: `auto: ${userns.why}` };
  }
  const { endpoint, tried } = await findEngine(env);
  if (!endpoint) return { kind: 'none', reason: `no engine answered${tried.length ? `: ${tried.join('; ')}` : ' (no DOCKER_HOST, docker context or known socket)'}` };
  const client = new EngineClient(endpoint);
  try {
    const info = await client.info();
    return { kind: 'engine', engine: describeEndpoint(endpoint), reason: `${setting}: ${info.name} ${info.version}, API ${info.api} (${endpoint.source})` };
  } catch (e) {
    return { kind: 'none', reason: `${describeEndpoint(endpoint)}: ${(e as Error).message}` };
  } finally {
    await client.close();
  }
}

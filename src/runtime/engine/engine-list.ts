/**
 * `slipway ps` on an engine: the containers of slipway sessions (the session label) and those kept for reuse (the reuse
 * key label) that the engine runs, described as the keepers describe theirs. Read from the engine's list, so it sees
 * every process's, as `docker ps` does.
 */
import { EngineClient } from '../../engine/client.js';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import { SESSION_LABEL } from '../../engine/watchdog.js';
import type { ContainerDescription } from '../control/description.js';
import { REUSE_KEY_LABEL } from './engine-reuse.js';

interface Listed {
  Id: string; Names: string[]; Image: string; ImageID: string; Command: string; Created: number; State: string; Status: string;
  Labels: Record<string, string> | null; HostConfig?: { NetworkMode?: string };
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  NetworkSettings?: { Networks?: Record<string, { IPAddress: string }> };
}

/** The engine's containers of slipway sessions and reuse, newest first. */
export async function listEngineContainers(endpoint: EngineEndpoint): Promise<ContainerDescription[]> {
  const client = new EngineClient(endpoint);
  try {
    const byLabel = (label: string) => client.call<Listed[]>('GET', '/containers/json', { query: { all: 1, filters: JSON.stringify({ label: [label] }) } });
    const seen = new Map<string, Listed>();
    for (const c of [...await byLabel(SESSION_LABEL), ...await byLabel(REUSE_KEY_LABEL)]) seen.set(c.Id, c);
    return [...seen.values()].sort((a, b) => b.Created - a.Created).map(describe);
  } finally {
    await client.close();
  }
}

function describe(c: Listed): ContainerDescription {
  const labels = c.Labels ?? {};
  const state = c.State === 'running' || c.State === 'created' ? c.State : c.State === 'removing' ? 'removing' : 'exited';
  const code = /^Exited \((-?\d+)\)/.exec(c.Status)?.[1];
  const pid = Number(labels['org.slipway.pid']);
  return {
    id: c.Id, name: c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12), image: c.Image, imageDigest: c.ImageID,
    command: c.Command ? c.Command.split(' ') : [], created: new Date(c.Created * 1000).toISOString(), state,
    ...(state === 'exited' ? { exit: { exitCode: code === undefined ? null : Number(code), signal: null, oomKilled: false } } : {}),
    pid: 0, hostname: '', labels, user: '', workdir: '', envNames: [], networkMode: c.HostConfig?.NetworkMode ?? '',
    ports: c.Ports.filter((p) => p.PublicPort && !p.IP?.includes(':')).map((p) => ({
      container: p.PrivatePort, protocol: p.Type === 'udp' ? 'udp' : 'tcp', hostIp: p.IP ?? '', hostPort: p.PublicPort!,
    })),
    networks: Object.fromEntries(Object.entries(c.NetworkSettings?.Networks ?? {}).map(([n, v]) => [n, v.IPAddress])),
    logPath: '', stateDir: '', keeperPid: 0,
    lifetime: labels[REUSE_KEY_LABEL] ? 'reuse' : 'process',
    ...(labels[REUSE_KEY_LABEL] ? {} : { owner: { pid: Number.isInteger(pid) ? pid : 0, program: 'engine session' } }),
  };
}

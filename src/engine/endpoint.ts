/**
 * Where a Docker or Podman Engine API answers: `DOCKER_HOST`, the current Docker context, then the sockets Docker,
 * Podman, Docker Desktop, Colima and Rancher Desktop make, in that order. Pure (the file system is passed in), so the
 * order is unit-tested.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { readInputBytesSync } from '../internal/read-input-file.js';

/** TLS material for a TCP engine (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`). */
export interface EngineTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Check the engine's certificate against `ca` (`DOCKER_TLS_VERIFY`). */
  verify: boolean;
}

/** An engine address and where it was found (for `slipway info` and the debug log). */
export type EngineEndpoint =
  | { kind: 'unix'; socketPath: string; source: string }
  | { kind: 'tcp'; host: string; port: number; tls?: EngineTls; source: string };

/** What discovery reads: the environment, the home directory and files. */
export interface DiscoveryHost {
  env: NodeJS.ProcessEnv;
  home: string;
  readFile(path: string): Buffer | undefined;
  /** True for a path that exists and is a socket. */
  isSocket(path: string): boolean;
  /** This process's uid: a rootless engine's runtime dir is `/run/user/<uid>` when `XDG_RUNTIME_DIR` is unset. */
  uid?: number;
}

/** The real machine. */
export function realHost(env: NodeJS.ProcessEnv = process.env): DiscoveryHost {
  return {
    env,
    home: env.HOME || homedir(),
    // Certificates, config.json and context metadata: small regular files only (a FIFO named by DOCKER_CERT_PATH or
    // DOCKER_CONFIG would block every start in open(); /dev/zero would be read until memory ran out).
    readFile: (p) => { try { return readInputBytesSync(p, 1 << 20); } catch { return undefined; } },
    isSocket: (p) => { try { return existsSync(p) && statSync(p).isSocket(); } catch { return false; } },
    uid: process.getuid?.(),
  };
}

/** An endpoint as printed: `unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375 (tls)`. */
export function describeEndpoint(e: EngineEndpoint): string {
  return e.kind === 'unix' ? `unix://${e.socketPath}` : `tcp://${e.host}:${e.port}${e.tls ? ' (tls)' : ''}`;
}

/**
 * Parses a `DOCKER_HOST`-style address. TLS follows `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH` (default `~/.docker`).
 * @throws SlipwayError `ERR_CONFIG` for a form slipway does not speak (ssh://, npipe://) or a malformed one
 */
export function parseEngineAddress(address: string, source: string, host: DiscoveryHost): EngineEndpoint {
  const a = address.trim();
  if (a.startsWith('unix://')) return { kind: 'unix', socketPath: a.slice('unix://'.length), source };
  if (a.startsWith('/')) return { kind: 'unix', socketPath: a, source };
  const m = /^(?:tcp|https?):\/\/(\[[0-9a-fA-F:]+\]|[^:/]+)(?::(\d{1,5}))?\/?$/.exec(a);
  if (!m) {
    throw new SlipwayError('ERR_CONFIG', `${source}: cannot use engine address ${JSON.stringify(address)}`, {
      hint: 'use unix:///path/to/docker.sock or tcp://host:port (ssh:// and npipe:// are not supported; forward the socket instead)',
    });
  }
  const verify = Boolean(host.env.DOCKER_TLS_VERIFY);
  const certDir = host.env.DOCKER_CERT_PATH || join(host.home, '.docker');
  const useTls = verify || Boolean(host.env.DOCKER_CERT_PATH) || a.startsWith('https://');
  const tls: EngineTls | undefined = useTls
    ? { ca: host.readFile(join(certDir, 'ca.pem')), cert: host.readFile(join(certDir, 'cert.pem')), key: host.readFile(join(certDir, 'key.pem')), verify }
    : undefined;
  // As the Docker CLI: verifying needs the CA, and a client certificate needs its key (a half pair is a mistake).
  if (tls?.verify && !tls.ca) {
    throw new SlipwayError('ERR_CONFIG', `${source}: DOCKER_TLS_VERIFY is set but ${join(certDir, 'ca.pem')} cannot be read`, {
      hint: 'point DOCKER_CERT_PATH at the directory holding ca.pem, cert.pem and key.pem (default ~/.docker), or unset DOCKER_TLS_VERIFY',
    });
  }
  if (tls && Boolean(tls.cert) !== Boolean(tls.key)) {
    throw new SlipwayError('ERR_CONFIG', `${source}: ${join(certDir, tls.cert ? 'key.pem' : 'cert.pem')} cannot be read but ${tls.cert ? 'cert.pem' : 'key.pem'} is there`, {
      hint: 'a client certificate needs both cert.pem and key.pem in DOCKER_CERT_PATH',
    });
  }
  const port = m[2] ? Number(m[2]) : tls ? 2376 : 2375;
  return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port, ...(tls ? { tls } : {}), source };
}

/** The current Docker context's engine address (`DOCKER_CONTEXT`, else config.json's `currentContext`), if not `default`. */
function contextAddress(host: DiscoveryHost): { name: string; address: string } | undefined {
  const configDir = host.env.DOCKER_CONFIG || join(host.home, '.docker');
  let name = host.env.DOCKER_CONTEXT;
  if (!name) {
    try { name = (JSON.parse(host.readFile(join(configDir, 'config.json'))?.toString() ?? '{}') as { currentContext?: string }).currentContext; } catch { name = undefined; }
  }
  if (!name || name === 'default') return undefined;
  const meta = host.readFile(join(configDir, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'), 'meta.json'));
  try {
    const address = (JSON.parse(meta?.toString() ?? '{}') as { Endpoints?: { docker?: { Host?: string } } }).Endpoints?.docker?.Host;
    return address ? { name, address } : undefined;
  } catch { return undefined; }
}

/**
 * Every engine worth trying, in order: `DOCKER_HOST` (then only it: it is explicit), the Docker context, and the
 * well-known sockets that exist: `/var/run/docker.sock`, a rootless dockerd's `<runtime dir>/docker.sock` and rootless
 * Podman's `<runtime dir>/podman/podman.sock` (the runtime dir is `$XDG_RUNTIME_DIR`, else `/run/user/<uid>` as
 * testcontainers looks), `/run/podman/podman.sock`, Docker Desktop's (`~/.docker/run`, `~/.docker/desktop`), Colima's,
 * Rancher Desktop's. Each is then tried in turn (`/_ping`): a socket this user may not open is skipped, so a user
 * without access to root's dockerd reaches their own rootless engine.
 */
export function engineCandidates(host: DiscoveryHost): EngineEndpoint[] {
  if (host.env.DOCKER_HOST) return [parseEngineAddress(host.env.DOCKER_HOST, 'DOCKER_HOST', host)];
  const out: EngineEndpoint[] = [];
  const ctx = contextAddress(host);
  if (ctx) out.push(parseEngineAddress(ctx.address, `docker context ${ctx.name}`, host));
  const runtimeDir = host.env.XDG_RUNTIME_DIR || (host.uid !== undefined && host.uid !== 0 ? `/run/user/${host.uid}` : undefined);
  const sockets: [string, string][] = [
    ['/var/run/docker.sock', 'Docker'],
    ...(runtimeDir
      ? [[join(runtimeDir, 'docker.sock'), 'Docker (rootless)'], [join(runtimeDir, 'podman', 'podman.sock'), 'Podman (rootless)']] as [string, string][]
      : []),
    ['/run/podman/podman.sock', 'Podman'],
    [join(host.home, '.docker', 'run', 'docker.sock'), 'Docker Desktop'],
    [join(host.home, '.docker', 'desktop', 'docker.sock'), 'Docker Desktop'],
    [join(host.home, '.colima', 'default', 'docker.sock'), 'Colima'],
    [join(host.home, '.colima', 'docker.sock'), 'Colima'],
    [join(host.home, '.rd', 'docker.sock'), 'Rancher Desktop'],
  ];
  for (const [path, what] of sockets) {
    if (host.isSocket(path) && !out.some((e) => e.kind === 'unix' && e.socketPath === path)) out.push({ kind: 'unix', socketPath: path, source: what });
  }
  return out;
}

/** Whether `host` names this machine's loopback (`127.0.0.0/8`, `::1`, `localhost`). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A TCP engine on another machine: its published ports and its reaper are reached there, not on this machine's loopback. */
export function isRemoteEngine(e: EngineEndpoint): boolean {
  return e.kind === 'tcp' && !isLoopbackHost(e.host);
}

/**
 * The address this process reaches an engine's published ports on, by testcontainers' rules: an override
 * (`SLIPWAY_HOST`, `TESTCONTAINERS_HOST_OVERRIDE`); a TCP engine's own host (`DOCKER_HOST=tcp://build-box:2376` →
 * `build-box`); inside a container (`/.dockerenv`, the engine's socket mounted in) the engine's bridge gateway, which
 * is the engine's host as the container sees it; else this machine's `127.0.0.1`. Docker Desktop, Colima and Rancher
 * Desktop forward ports published on their VM's loopback to this machine's, so their sockets take the last rule.
 */
export function engineClientHost(e: EngineEndpoint, env: NodeJS.ProcessEnv, inContainer: boolean, bridgeGateway: string | undefined): string {
  const override = env.SLIPWAY_HOST || env.TESTCONTAINERS_HOST_OVERRIDE;
  if (override) return override;
  if (e.kind === 'tcp') return e.host;
  if (inContainer && bridgeGateway) return bridgeGateway;
  return '127.0.0.1';
}

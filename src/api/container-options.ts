import { invalidArgument } from '../errors.js';
import type { NetworkAttachable } from '../runtime/network-membership.js';
import type { VolumeSource } from '../runtime/volume-source.js';

/** A port published from the container to the host. */
export interface PortBinding {
  /** Port inside the container. */
  container: number;
  protocol: 'tcp' | 'udp';
  /** Host port; 0 picks a free one (chosen by the kernel, race-free). */
  host: number;
  /** Host address to listen on. @defaultValue '127.0.0.1' */
  hostIp: string;
}

export interface BindMount { kind: 'bind'; source: string; target: string; readonly: boolean }
export interface TmpfsMount { kind: 'tmpfs'; target: string; size?: number; mode?: number }
export interface VolumeMount { kind: 'volume'; volume: VolumeSource; target: string; readonly: boolean }
export type Mount = BindMount | TmpfsMount | VolumeMount;

/** A file placed into the container before its process starts. */
export interface FileCopy {
  target: string;
  /** Inline content, or a host path to copy (file or directory). */
  content?: Buffer;
  source?: string;
  mode?: number;
  owner?: string;
}

export type NetworkMode = 'isolated' | 'none' | 'host';

/** Which host services a container may reach (see `Container.withHostAccess`). */
export interface HostAccess {
  /** TCP ports of the host's 127.0.0.1 reachable as `host.slipway.internal:<port>`, and no others. */
  ports: readonly number[];
  /** Every port of the host's loopback, through the outbound helper's gateway. Dangerous; see `withHostAccess`. */
  allLoopbackPorts: boolean;
  /** More names for the host in /etc/hosts (the testcontainers layer adds `host.testcontainers.internal`). */
  aliases: readonly string[];
}

/** The argument of `Container.withHostAccess` in its object form. */
export interface HostAccessOptions {
  /** Host TCP ports (on 127.0.0.1) the container may reach as `host.slipway.internal:<port>`. */
  ports?: readonly number[];
  /**
   * Reach EVERY port of the host's loopback (10.0.2.2 is mapped to the host's 127.0.0.1). Dangerous: a hostile image
   * then reaches every loopback-only service of the machine (databases, registries, other containers' published
   * ports, cloud-agent and debug endpoints). Prefer naming ports. Needs slirp4netns or pasta.
   * @defaultValue false
   */
  unsafeAllLoopbackPorts?: boolean;
}

/** Everything a builder collected; frozen copies are passed down to the runtime. */
export interface ContainerOptions {
  image: string;
  command?: readonly string[];
  entrypoint?: readonly string[];
  env: Readonly<Record<string, string>>;
  user?: string;
  workdir?: string;
  hostname?: string;
  name?: string;
  labels: Readonly<Record<string, string>>;
  mounts: readonly Mount[];
  files: readonly FileCopy[];
  ports: readonly PortBinding[];
  networkMode: NetworkMode;
  /** Absent: the host's loopback is out of reach. */
  hostAccess?: HostAccess;
  networks: readonly { network: NetworkAttachable; aliases: readonly string[] }[];
  memory?: number;
  memorySwap?: number;
  cpus?: number;
  pids?: number;
  shmSize?: number;
  /** Resource limits (setrlimit) by name without the RLIMIT_ prefix, lowercase (`nofile`, `nproc`…). */
  ulimits: Readonly<Record<string, { soft: number; hard: number }>>;
  /** Capabilities added to / dropped from Docker's default set (names without CAP_; `ALL` allowed). */
  capAdd: readonly string[];
  capDrop: readonly string[];
  /** Docker's default seccomp profile, or none (`withSecurityOpt('seccomp=unconfined')`). */
  seccomp: 'default' | 'unconfined';
  /** Extra /etc/hosts entries, name → IP (Docker's --add-host). */
  extraHosts: Readonly<Record<string, string>>;
  bestEffortLimits: boolean;
  pullPolicy: 'missing' | 'always' | 'never';
  platform?: string;
  startupTimeout: number;
  /** Bound of the image pull in ms; undefined: pull()'s default (`$SLIPWAY_PULL_TIMEOUT`, else 10 minutes). */
  pullTimeout?: number;
  stopSignal?: string;
  stopTimeout: number;
  init: boolean;
  waitStrategy?: unknown;
}

export const DEFAULT_OPTIONS: Omit<ContainerOptions, 'image'> = Object.freeze({
  env: {},
  labels: {},
  ulimits: {},
  capAdd: [],
  capDrop: [],
  seccomp: 'default',
  extraHosts: {},
  mounts: [],
  files: [],
  ports: [],
  networkMode: 'isolated',
  networks: [],
  bestEffortLimits: false,
  pullPolicy: 'missing',
  startupTimeout: 60_000,
  stopTimeout: 10_000,
  init: true,
});

export function checkPort(option: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
    throw invalidArgument(option, value, `an integer port between ${allowZero ? 0 : 1} and 65535`);
  }
  return value;
}

/** Parses `6379`, `'6379'`, `'6379/tcp'`, `'53/udp'` into a port and protocol. */
export function parsePortSpec(option: string, spec: number | string): { port: number; protocol: 'tcp' | 'udp' } {
  if (typeof spec === 'number') return { port: checkPort(option, spec), protocol: 'tcp' };
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(String(spec));
  if (!m) throw invalidArgument(option, spec, 'a port such as 6379, "6379/tcp" or "53/udp"');
  return { port: checkPort(option, Number(m[1])), protocol: (m[2] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

/** Absolute, normalised container path without `..` segments. */
export function checkContainerPath(option: string, path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0') || path.split('/').includes('..')) {
    throw invalidArgument(option, path, 'an absolute container path without ".." segments, such as /etc/app.conf');
  }
  return path.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
}

export function checkStringRecord(option: string, value: unknown, keyPattern: RegExp): Record<string, string> {
  if (typeof value !== 'object' || value === null) throw invalidArgument(option, value, 'an object of string values');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!keyPattern.test(k)) throw invalidArgument(`${option} key`, k, `a name matching ${keyPattern}`);
    if (typeof v !== 'string' || v.includes('\0')) throw invalidArgument(`${option}.${k}`, v, 'a string without NUL bytes');
    out[k] = v;
  }
  return out;
}

export function checkArgv(option: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw invalidArgument(option, value, 'an array of strings without NUL bytes, such as ["sh", "-c", "echo hi"]');
  }
  return [...value];
}

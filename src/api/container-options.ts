import { invalidArgument } from '../errors.js';
import type { LaunchPlan } from '../runtime/index.js';
import type { SnapshotOptions } from './snapshot-options.js';

export { checkPort, parsePortSpec } from './port-spec.js';

export type {
  BindMount, FileCopy, HostAccess, LaunchPlan, Mount, NetworkJoin, NetworkMode, PortBinding, TmpfsMount, VolumeMount,
} from '../runtime/index.js';

/**
 * The argument of `Container.withHostAccess` in its object form.
 * @example
 * import { Container } from 'slipway';
 * const c = new Container('curlimages/curl').withHostAccess({ ports: [5432, 6379] });
 */
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

/**
 * Everything a builder collected; frozen copies are passed down to the runtime (which reads the `LaunchPlan` part).
 * @example
 * import { Container } from 'slipway';
 * const base = new Container('redis:7').withEnv({ TZ: 'UTC' }).withStartupTimeout(30_000);
 * base.options.env; // { TZ: 'UTC' }
 * base.options.startupTimeout; // 30000
 */
export interface ContainerOptions extends LaunchPlan {
  labels: Readonly<Record<string, string>>;
  /** undefined: the `startupTimeout` setting (`$SLIPWAY_STARTUP_TIMEOUT`, a config file), else 60000. */
  startupTimeout?: number;
  stopTimeout: number;
  init: boolean;
  waitStrategy?: unknown;
  /** A health check given by the builder; replaces the image's HEALTHCHECK (OCI `Healthcheck` form, durations in ns). */
  healthcheck?: HealthcheckConfig;
  /** Start from (and first make) a snapshot of the initialised service (`withSnapshot`); `false`: turned off (`withoutSnapshot`), also a module's default. */
  snapshot?: SnapshotOptions | false;
  /** Kept for reuse across runs by the user's reuse keeper (`Container.withReuse`). */
  reuse?: boolean;
}

/**
 * A HEALTHCHECK as the OCI image config holds it: `Test` is `['CMD', ...argv]`, `['CMD-SHELL', script]` or `['NONE']`; durations in nanoseconds.
 * @example
 * import { Container } from 'slipway';
 * const c = new Container('redis:7').withHealthCheck({ test: ['CMD', 'redis-cli', 'ping'], interval: 1000, retries: 5 });
 * c.options.healthcheck?.Test; // ['CMD', 'redis-cli', 'ping'] (durations in ns, as in the OCI config)
 */
export interface HealthcheckConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  /** The interval between runs during `StartPeriod` (Docker ≥ 25, Compose `start_interval`); `Interval` after it. */
  StartInterval?: number;
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
  stopTimeout: 10_000,
  init: true,
});

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

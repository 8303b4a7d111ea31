/**
 * The runtime's input types. The API's builder fills them in (validated at each `with*` call); the runtime reads them
 * once, in `launch.ts`, and hands the container handle what it needs.
 */
import type { NetworkAttachable } from './network-membership.js';
import type { VolumeSource } from './volume-source.js';

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
  /** Inline content, or a host path to copy (file or directory), or a tar archive extracted at `target`. */
  content?: Buffer;
  source?: string;
  archive?: Buffer;
  mode?: number;
  owner?: string;
  /** Owned by the container process's user (testcontainers' `copyUIDGID`); `owner` wins. */
  ownerOfProcess?: boolean;
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

/**
 * What the runtime needs to launch one container: the builder's options as the runtime reads them. The API layer's
 * `ContainerOptions` extends it with what only the API uses (wait strategy, timeouts, labels); the runtime never sees
 * those and never imports the API.
 */
export interface LaunchPlan {
  image: string;
  command?: readonly string[];
  entrypoint?: readonly string[];
  env: Readonly<Record<string, string>>;
  user?: string;
  workdir?: string;
  hostname?: string;
  name?: string;
  mounts: readonly Mount[];
  files: readonly FileCopy[];
  ports: readonly PortBinding[];
  networkMode: NetworkMode;
  /** Absent: the host's loopback is out of reach. */
  hostAccess?: HostAccess;
  networks: readonly NetworkJoin[];
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
  /** `no_new_privs` for the process and its execs (`withSecurityOpt('no-new-privileges')`); off by default, as in Docker. */
  noNewPrivileges?: boolean;
  /** Extra /etc/hosts entries, name → IP (Docker's --add-host). */
  extraHosts: Readonly<Record<string, string>>;
  bestEffortLimits: boolean;
  /** undefined: the `pullPolicy` setting (`$SLIPWAY_PULL_POLICY`, a config file), else `missing`. */
  pullPolicy?: 'missing' | 'always' | 'never';
  platform?: string;
  /** Bound of the image pull in ms; undefined: the `pullTimeout` setting (`$SLIPWAY_PULL_TIMEOUT`, a config file), else 10 minutes. */
  pullTimeout?: number;
  /** Signal for stop(); undefined: the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
}

/** A user network the container joins, with its aliases there. */
export interface NetworkJoin { network: NetworkAttachable; aliases: readonly string[] }

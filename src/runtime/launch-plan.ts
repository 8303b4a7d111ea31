/**
 * The runtime's input types. The API's builder fills them in (validated at each `with*` call); the runtime reads them
 * once, in `launch.ts`, and hands the container handle what it needs.
 */
import type { NetworkAttachable } from './network-membership.js';
import type { VolumeSource } from './volume-source.js';

/**
 * A port published from the container to the host.
 * @example
 * import { Container } from 'slipway';
 * const web = new Container('nginx:1').expose({ container: 80, host: 8080, hostIp: '127.0.0.1' });
 * const [binding] = web.options.ports; // { container: 80, protocol: 'tcp', host: 8080, hostIp: '127.0.0.1' }
 */
export interface PortBinding {
  /** Port inside the container. */
  container: number;
  protocol: 'tcp' | 'udp';
  /** Host port; 0 picks a free one (chosen by the kernel, race-free). */
  host: number;
  /** Host address to listen on. @defaultValue '127.0.0.1' */
  hostIp: string;
}

/**
 * A host directory or file bound into the container (`Container.withBind`).
 * @example
 * import { Container } from 'slipway';
 * const c = new Container('busybox').withBind('/srv/fixtures', '/fixtures', { readonly: true });
 * c.options.mounts; // [{ kind: 'bind', source: '/srv/fixtures', target: '/fixtures', readonly: true }]
 */
export interface BindMount { kind: 'bind'; source: string; target: string; readonly: boolean }
/**
 * A tmpfs mounted in the container (`Container.withTmpfs`); `size` in bytes.
 * @example
 * import { Container } from 'slipway';
 * const c = new Container('postgres:16').withTmpfs('/var/lib/postgresql/data', { size: '512m' });
 */
export interface TmpfsMount {
  kind: 'tmpfs'; target: string; size?: number; mode?: number;
  /** Owner and group of its root directory (ids inside the container). */
  uid?: number; gid?: number;
  readonly?: boolean;
  /** Mount flag words chosen (`noexec`, `suid`, `noatime`…); a kind not named is `exec`, `nosuid`, `nodev`, else the kernel's default. */
  flags?: string[];
  /** Further kernel data words: `nr_inodes=`, `nr_blocks=`, `mpol=`. */
  data?: string[];
}

/**
 * A tmpfs's option words with every exec, suid and dev flag explicit (an engine's default is `noexec`), read-only
 * first: what the keeper parses into flags and data, and what an engine's `HostConfig.Tmpfs` takes.
 * @example
 * tmpfsWords({ kind: 'tmpfs', target: '/t', size: 1024, flags: ['noexec'] }); // ['rw', 'noexec', 'nosuid', 'nodev', 'size=1024']
 */
export function tmpfsWords(m: TmpfsMount): string[] {
  const flags = m.flags ?? [];
  const has = (a: string, b: string): boolean => flags.includes(a) || flags.includes(b);
  return [
    m.readonly ? 'ro' : 'rw',
    ...(has('exec', 'noexec') ? [] : ['exec']), ...(has('suid', 'nosuid') ? [] : ['nosuid']), ...(has('dev', 'nodev') ? [] : ['nodev']),
    ...flags,
    ...(m.size !== undefined ? [`size=${m.size}`] : []),
    `mode=${(m.mode ?? 0o1777).toString(8).padStart(4, '0')}`,
    ...(m.uid !== undefined ? [`uid=${m.uid}`] : []),
    ...(m.gid !== undefined ? [`gid=${m.gid}`] : []),
    ...(m.data ?? []),
  ];
}
/**
 * A `Volume` mounted in the container (`Container.withVolume`).
 * @example
 * import { Container, Volume } from 'slipway';
 * await using data = Volume.named('pgdata');
 * const c = new Container('postgres:16').withVolume(data, '/var/lib/postgresql/data');
 */
export interface VolumeMount { kind: 'volume'; volume: VolumeSource; target: string; readonly: boolean }
/**
 * Any mount of `ContainerOptions.mounts`: a bind, a tmpfs or a volume.
 * @example
 * import { Container, type Mount } from 'slipway';
 * const describe = (m: Mount) => (m.kind === 'bind' ? `${m.source} → ${m.target}` : `${m.kind} at ${m.target}`);
 * new Container('busybox').withTmpfs('/tmp').options.mounts.map(describe); // ['tmpfs at /tmp']
 */
export type Mount = BindMount | TmpfsMount | VolumeMount;

/**
 * A file placed into the container before its process starts.
 * @example
 * import { Container } from 'slipway';
 * const c = new Container('nginx:1')
 *   .withFile('/usr/share/nginx/html/index.html', '<h1>hi</h1>', { mode: 0o644 })
 *   .withCopy('./fixtures/nginx.conf', '/etc/nginx/nginx.conf');
 * c.options.files.length; // 2
 */
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

/**
 * How a container is networked: `isolated` (its own network namespace, the default), `none` (loopback only) or `host` (the host's).
 * @example
 * import { Container } from 'slipway';
 * const offline = new Container('busybox').withNetworkMode('none');
 */
export type NetworkMode = 'isolated' | 'none' | 'host';

/**
 * Which host services a container may reach (see `Container.withHostAccess`).
 * @example
 * import { Container } from 'slipway';
 * const c = new Container('curlimages/curl').withHostAccess(8080);
 * c.options.hostAccess?.ports; // [8080]: http://host.slipway.internal:8080 inside reaches the host's 127.0.0.1:8080
 */
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
 * `ContainerOptions` extends it with what only the API uses (wait strategy, timeouts); the runtime never sees
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
  /** Carried for `slipway ps`/`inspect` and other processes (a Compose project's containers are found by theirs). */
  labels?: Readonly<Record<string, string>>;
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
  /**
   * Bound of one boot in ms (the keeper starting, CREATE, network helper, networks, copies, ports, START; not the pull,
   * not the wait); undefined or 0: the `startupTimeout` setting, else 60 s. `Infinity`: unbounded.
   */
  bootTimeout?: number;
  /** Signal for stop(); undefined: the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
  /**
   * A snapshot layer (a store layer dir made from this plan's first start, see `Container.withSnapshot`) mounted
   * read-only above the image's layers. Its files are the ones copied in already: `files` are not copied again.
   */
  snapshotLayer?: string;
  /**
   * A directory (made by the caller, removed with the container) where the writable layer's `upper/` and `work/` are
   * made instead of the state dir: a first start that becomes a snapshot puts them in the store, so the stopped
   * container's upper dir becomes the snapshot layer by a rename, whatever owners and modes its files have.
   */
  upperParent?: string;
}

/** A user network the container joins, with its aliases there. */
export interface NetworkJoin { network: NetworkAttachable; aliases: readonly string[] }

import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { SlipwayError, invalidArgument } from '../errors.js';
import { withSettings } from '../config/index.js';
import { logger } from '../internal/debug.js';
import { phaseTimer } from '../internal/phases.js';
import {
  DEFAULT_OPTIONS, checkArgv, checkContainerPath, checkPort, checkStringRecord, parsePortSpec,
  type ContainerOptions, type HealthcheckConfig, type HostAccessOptions, type NetworkMode, type PortBinding,
} from './container-options.js';
import { CAP_NUMBERS, MIN_MEMORY, parseCpus, parseMemory } from '../runtime/index.js';
import type { WaitStrategy } from './wait/index.js';
import type { StartedContainer } from './started-container.js';
import type { SnapshotOptions } from './snapshot-options.js';
import { Network } from './network.js';
import { buildImage, type BuildOptions } from '../build/builder.js';
import { Volume } from './volume.js';
import { tmpfsMount, type TmpfsOptions } from './tmpfs-options.js';

const ENV_KEY = /^[^=\0]+$/;
const LABEL_KEY = /^[^\0]+$/;
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ULIMITS = ['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime'];
/** run()'s phases after the start (exit, output, teardown): DEBUG=slipway:start, beside the start's own. */
const phaseLog = logger('start');
// Loaded on first use (they import this module's dependents), then kept: a dynamic import of a loaded module still
// costs a resolve and a few microtasks per call, and run() is called in loops.
let startModule: Promise<typeof import('./start.js')> | undefined;
let waitModule: Promise<typeof import('./wait/index.js')> | undefined;
let startedModule: Promise<typeof import('./started-container.js')> | undefined;

/**
 * Describes a container to start. Every `with*` method returns a new builder, so a half-configured
 * builder can be reused to start many containers.
 *
 * @example
 * import { Container } from 'slipway';
 * await using redis = await new Container('redis:7').withMemory('128m').expose(6379).start();
 * const port = redis.getMappedPort(6379);
 */
export class Container {
  readonly #options: ContainerOptions;

  /** @param image An image reference (`redis:7`, `localhost:5000/app@sha256:…`, `oci-layout:/dir:tag`, `docker-archive:/x.tar`). */
  constructor(image: string, options?: ContainerOptions) {
    if (typeof image !== 'string' || image.trim() === '') throw invalidArgument('image', image, 'an image reference such as "redis:7"');
    this.#options = Object.freeze({ ...(options ?? { ...DEFAULT_OPTIONS, image }), image });
  }

  /**
   * Builds an image from a Dockerfile on slipway's own runtime (no Docker): each RUN runs in a hardened slipway
   * container over the stage's layers, each file change becomes a layer in the store, and steps whose parent,
   * instruction and inputs are unchanged come from the cache. The result is tagged in the store, so
   * `new Container(ref)` starts it without a registry.
   *
   * @param contextDir - The build context: the directory COPY reads from (`.dockerignore` applied).
   * @returns The image reference (`options.tag`, else `localhost/slipway-build:<id>`).
   * @throws {@link SlipwayError} `ERR_BUILD_CONTEXT` (no context, a COPY source missing or outside it),
   *   `ERR_DOCKERFILE_PARSE` (names the line), `ERR_BUILD` (unknown target or stage, bad instruction),
   *   `ERR_BUILD_STEP_FAILED` (a RUN exited non-zero: its exit code, and its last output lines in the message),
   *   `ERR_UNSUPPORTED` (RUN --mount, ADD of a URL), pull errors for FROM images, `ERR_ABORTED`.
   * @example
   * import { Container } from 'slipway';
   * const image = await Container.fromDockerfile('./app', { buildArgs: { NODE_ENV: 'test' }, target: 'runtime' });
   * await using app = await new Container(image).expose(8080).start();
   */
  static async fromDockerfile(contextDir: string, options: BuildOptions = {}): Promise<string> {
    if (typeof contextDir !== 'string' || contextDir === '') throw invalidArgument('contextDir', contextDir, 'the path of the build context directory');
    if (options.buildArgs !== undefined) checkStringRecord('buildArgs', options.buildArgs, /^[A-Za-z_][A-Za-z0-9_]*$/);
    return withSettings(async () => (await buildImage(contextDir, options)).ref);
  }

  /** The collected options (frozen). */
  get options(): ContainerOptions { return this.#options; }

  #with(patch: Partial<ContainerOptions>): Container {
    return new Container(this.#options.image, { ...this.#options, ...patch });
  }

  /** Replaces the image's Cmd. */
  withCommand(command: readonly string[]): Container { return this.#with({ command: checkArgv('command', command) }); }
  /** Replaces the image's Entrypoint and clears its Cmd (as `docker run --entrypoint`). */
  withEntrypoint(entrypoint: readonly string[]): Container { return this.#with({ entrypoint: checkArgv('entrypoint', entrypoint) }); }
  /** Adds environment variables; they override the image's. */
  withEnv(env: Record<string, string>): Container {
    return this.#with({ env: { ...this.#options.env, ...checkStringRecord('env', env, ENV_KEY) } });
  }
  /** Runs as `name`, `uid`, `uid:gid`, `name:group` (resolved in the image's /etc/passwd and /etc/group). */
  withUser(user: string): Container {
    if (typeof user !== 'string' || !/^[^:\s]+(:[^:\s]+)?$/.test(user)) throw invalidArgument('user', user, '"name", "uid", "uid:gid" or "name:group"');
    return this.#with({ user });
  }
  /** Working directory; created if missing. */
  withWorkdir(dir: string): Container { return this.#with({ workdir: checkContainerPath('workdir', dir) }); }
  withHostname(hostname: string): Container {
    if (typeof hostname !== 'string' || hostname.length > 253 || !HOSTNAME.test(hostname)) throw invalidArgument('hostname', hostname, 'a DNS name such as "db"');
    return this.#with({ hostname });
  }
  /** Name shown by `slipway ps`; must be unique among running containers of this process. */
  withName(name: string): Container {
    if (typeof name !== 'string' || !NAME.test(name)) throw invalidArgument('name', name, 'letters, digits, "_", "." or "-" (at most 128)');
    return this.#with({ name });
  }
  withLabels(labels: Record<string, string>): Container {
    return this.#with({ labels: { ...this.#options.labels, ...checkStringRecord('labels', labels, LABEL_KEY) } });
  }
  /** Bind-mounts a host path (which must exist). */
  withBind(hostPath: string, containerPath: string, opts: { readonly?: boolean } = {}): Container {
    if (typeof hostPath !== 'string' || !hostPath.startsWith('/')) {
      // Docker's CLI resolves `-v ./data:/data` against the working directory; the API (and so testcontainers) does not.
      const relative = typeof hostPath === 'string' && hostPath.trim() !== '' && !hostPath.includes('\0');
      throw invalidArgument('bind source', hostPath,
        relative ? `an absolute host path: path.resolve(${JSON.stringify(hostPath)}) gives ${resolvePath(hostPath)} from this process's working directory` : 'an absolute host path');
    }
    const target = checkContainerPath('bind target', containerPath);
    return this.#with({ mounts: [...this.#options.mounts, { kind: 'bind', source: hostPath, target, readonly: !!opts.readonly }] });
  }
  /**
   * Mounts a named volume (a {@link Volume} or its name): its content outlives this container and is
   * shared with other containers of this process that mount it.
   * @example
   * import { Container } from 'slipway';
   * new Container('postgres:16').withVolume('pgdata', '/var/lib/postgresql/data');
   */
  withVolume(volume: Volume | string, containerPath: string, opts: { readonly?: boolean } = {}): Container {
    const v = typeof volume === 'string' ? Volume.named(volume) : volume;
    if (!(v instanceof Volume)) throw invalidArgument('volume', volume, 'a Volume or a volume name');
    const target = checkContainerPath('volume target', containerPath);
    return this.#with({ mounts: [...this.#options.mounts, { kind: 'volume', volume: v, target, readonly: !!opts.readonly }] });
  }
  /**
   * Mounts a tmpfs: writable, `nosuid,nodev`, mode 1777 unless `opts` say otherwise (size, mode, owner, read-only,
   * noexec, or any of Docker's tmpfs option words in `opts.options`).
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a bad value or an unknown option word (the hint lists the accepted ones).
   * @example
   * import { Container } from 'slipway';
   * new Container('busybox').withTmpfs('/tmp', { size: '64m' });
   * new Container('busybox').withTmpfs('/cache', { uid: 1000, gid: 1000, mode: 0o700, options: 'noexec,noatime' });
   */
  withTmpfs(containerPath: string, opts: TmpfsOptions = {}): Container {
    const target = checkContainerPath('tmpfs target', containerPath);
    return this.#with({ mounts: [...this.#options.mounts, tmpfsMount(target, opts ?? {}, `tmpfs ${target}`)] });
  }
  /** Places a file with the given content before the process starts. */
  withFile(containerPath: string, content: string | Buffer, opts: { mode?: number; owner?: string } = {}): Container {
    const target = checkContainerPath('file path', containerPath);
    if (typeof content !== 'string' && !Buffer.isBuffer(content)) throw invalidArgument('file content', content, 'a string or Buffer');
    checkMode(opts.mode);
    return this.#with({ files: [...this.#options.files, { target, content: Buffer.from(content), mode: opts.mode, owner: opts.owner }] });
  }
  /** Copies a host file or directory into the container before the process starts. */
  withCopy(hostPath: string, containerPath: string, opts: { mode?: number; owner?: string } = {}): Container {
    if (typeof hostPath !== 'string' || hostPath === '') throw invalidArgument('copy source', hostPath, 'a host path');
    checkMode(opts.mode);
    return this.#with({ files: [...this.#options.files, { target: checkContainerPath('copy target', containerPath), source: hostPath, mode: opts.mode, owner: opts.owner }] });
  }
  /**
   * Extracts a tar archive into container directory `containerPath` before the process starts (as Docker's put-archive):
   * files, directories and symlinks keep their modes and the uid/gid their headers name, unless `owner` is given
   * (a user of the image such as `'app'` or `'1000:1000'`).
   * @throws SlipwayError at start: `ERR_COPY_UNSAFE_PATH` for an entry with `..`, `ERR_UNSUPPORTED` for device nodes or FIFOs.
   * @example
   * import { readFileSync } from 'node:fs';
   * import { Container } from 'slipway';
   * new Container('nginx:1').withArchive(readFileSync('site.tar'), '/usr/share/nginx/html');
   */
  withArchive(tar: Buffer, containerPath: string, opts: { owner?: string } = {}): Container {
    if (!Buffer.isBuffer(tar)) throw invalidArgument('archive', tar, 'a Buffer holding a tar archive');
    return this.#with({ files: [...this.#options.files, { target: checkContainerPath('archive target', containerPath), archive: tar, owner: opts.owner }] });
  }
  /**
   * Publishes a container port. `expose(6379)`: a free host port on 127.0.0.1; `expose(80, 8080)`: fixed;
   * `expose('53/udp')`; `expose({ container: 80, host: 0, hostIp: '0.0.0.0' })`.
   */
  expose(...args: [number | string, number?] | [Partial<PortBinding> & { container: number }]): Container {
    const [first, second] = args;
    let binding: PortBinding;
    if (typeof first === 'object' && first !== null) {
      binding = {
        container: checkPort('expose.container', first.container),
        protocol: checkProtocol(first.protocol),
        host: checkPort('expose.host', first.host ?? 0, true),
        hostIp: checkHostIp(first.hostIp ?? '127.0.0.1'),
      };
    } else {
      const { port, protocol } = parsePortSpec('expose', first as number | string);
      binding = { container: port, protocol, host: second === undefined ? 0 : checkPort('expose host port', second, true), hostIp: '127.0.0.1' };
    }
    const others = this.#options.ports.filter((p) => !(p.container === binding.container && p.protocol === binding.protocol));
    return this.#with({ ports: [...others, binding] });
  }
  /** `isolated` (default: own network with outbound access), `none` (loopback only) or `host`. */
  withNetworkMode(mode: NetworkMode): Container {
    if (!['isolated', 'none', 'host'].includes(mode)) throw invalidArgument('network mode', mode, '"isolated", "none" or "host"');
    return this.#with({ networkMode: mode });
  }
  /**
   * Lets the container reach TCP services the test runs on the host's loopback (127.0.0.1, else [::1]), port by port, as
   * `host.slipway.internal:<port>` (also `host.containers.internal` and `host.docker.internal`), as testcontainers'
   * `exposeHostPorts` does. Only the named ports are reachable: the host's other loopback services (databases,
   * registries, other containers' published ports) stay out of reach. Calls add up; `withHostAccess(false)` removes
   * all host access. Works without slirp4netns/pasta (the keeper relays each connection).
   *
   * The named ports are taken on host.slipway.internal's address (169.254.1.2, on the container's own lo), so a
   * process in the container cannot also listen on one of them on all addresses (0.0.0.0).
   *
   * `{ unsafeAllLoopbackPorts: true }` maps the WHOLE host loopback, every port, to the gateway instead. Dangerous:
   * a hostile image then reaches every loopback-only service of the machine. Needs slirp4netns or pasta.
   *
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for no port, a port outside 1..65535, or any other argument.
   * @example
   * import { createServer } from 'node:http';
   * import type { AddressInfo } from 'node:net';
   * import { Container } from 'slipway';
   * const server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
   * const { port } = server.address() as AddressInfo;
   * new Container('curlimages/curl').withHostAccess(port).withCommand(['curl', `http://host.slipway.internal:${port}/`]);
   * @example
   * import { Container } from 'slipway';
   * new Container('my-app:1').withHostAccess({ ports: [5432, 6379] });
   */
  withHostAccess(...ports: number[]): Container;
  withHostAccess(options: HostAccessOptions): Container;
  withHostAccess(enabled: false): Container;
  withHostAccess(...args: unknown[]): Container {
    const expected = 'host ports such as withHostAccess(5432, 8080), { ports: [5432] }, { unsafeAllLoopbackPorts: true } (every loopback port: dangerous) or false';
    if (args.length === 1 && args[0] === false) {
      const { hostAccess: _off, ...rest } = this.#options;
      return new Container(this.#options.image, rest);
    }
    let ports: readonly unknown[];
    let all = false;
    if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) {
      const o = args[0] as HostAccessOptions;
      for (const k of Object.keys(o)) if (k !== 'ports' && k !== 'unsafeAllLoopbackPorts') throw invalidArgument('host access option', k, '"ports" or "unsafeAllLoopbackPorts"');
      if (o.ports !== undefined && !Array.isArray(o.ports)) throw invalidArgument('host access ports', o.ports, 'an array of ports');
      if (o.unsafeAllLoopbackPorts !== undefined && typeof o.unsafeAllLoopbackPorts !== 'boolean') throw invalidArgument('unsafeAllLoopbackPorts', o.unsafeAllLoopbackPorts, 'true or false');
      ports = o.ports ?? [];
      all = o.unsafeAllLoopbackPorts === true;
    } else {
      if (args.some((a) => typeof a !== 'number')) throw invalidArgument('host access', args.length === 1 ? args[0] : args, expected);
      ports = args;
    }
    if (ports.length === 0 && !all) throw invalidArgument('host access', args.length ? args[0] : '(nothing)', expected);
    const prev = this.#options.hostAccess;
    const merged = new Set(prev?.ports ?? []);
    for (const p of ports) merged.add(checkPort('host access port', p));
    return this.#with({ hostAccess: { ports: [...merged], allLoopbackPorts: all || (prev?.allLoopbackPorts ?? false), aliases: prev?.aliases ?? [] } });
  }
  /**
   * Joins a user network (a {@link Network}, or the name of a started one, as `docker run --network <name>`); other
   * containers on it reach this one by name and aliases.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a name no started network of this process has.
   */
  withNetwork(network: Network | string, opts: { aliases?: string[] } = {}): Container {
    if (typeof network === 'string') {
      const found = Network.byName(network);
      if (!found) throw invalidArgument('network', network, 'a Network, or the name of a network started in this process (Network.create() or new Network().start())');
      network = found;
    }
    if (!(network instanceof Network)) throw invalidArgument('network', network, 'a Network from Network.create()');
    const aliases = opts.aliases ?? [];
    for (const a of aliases) if (typeof a !== 'string' || !HOSTNAME.test(a)) throw invalidArgument('network alias', a, 'a DNS name such as "db"');
    if (this.#options.networks.some((n) => n.network === network)) throw invalidArgument('network', network.name, 'a network this container has not joined yet');
    return this.#with({ networks: [...this.#options.networks, { network, aliases }] });
  }
  /** Memory limit, e.g. `'128m'`, `'1g'` or bytes; at least 6m (Docker's minimum). @throws SlipwayError ERR_INVALID_ARGUMENT below 6m or malformed. */
  withMemory(limit: string | number): Container { return this.#with({ memory: parseMemory(limit, 'memory', { min: MIN_MEMORY }) }); }
  /** Memory + swap limit (Docker's --memory-swap), at least 6m; -1 for unlimited swap. */
  withMemorySwap(limit: string | number): Container {
    return this.#with({ memorySwap: parseMemory(limit, 'memorySwap', { allowUnlimited: true, min: MIN_MEMORY }) });
  }
  /** CPU quota in CPUs, from 0.01 to the host's CPU count, e.g. `0.5`. */
  withCpus(cpus: number | string): Container { return this.#with({ cpus: parseCpus(cpus, 'cpus') }); }
  /**
   * Maximum number of processes, slipway's init included: at least 2 (init and the container's process).
   * @throws SlipwayError ERR_INVALID_ARGUMENT for anything else.
   */
  withPids(max: number): Container {
    if (!Number.isSafeInteger(max) || max < MIN_PIDS) throw invalidArgument('pids', max, `an integer of at least ${MIN_PIDS} (slipway's init counts as one process)`);
    return this.#with({ pids: max });
  }
  /**
   * Process resource limits, as `docker run --ulimit`, for the container's process and its execs. Only what is asked is set; a value above the
   * keeper's own hard limit is clamped to it (raising a hard limit needs privileges slipway does not use).
   * @example
   * import { Container } from 'slipway';
   * new Container('busybox').withUlimits({ nofile: { soft: 1024, hard: 4096 } });
   */
  withUlimits(limits: Record<string, { soft: number; hard: number }>): Container {
    const out: Record<string, { soft: number; hard: number }> = { ...this.#options.ulimits };
    for (const [name, v] of Object.entries(limits)) {
      if (!ULIMITS.includes(name)) throw invalidArgument('ulimit', name, `one of ${ULIMITS.join(', ')}`);
      const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= -1;
      if (!v || !ok(v.soft) || !ok(v.hard) || (v.hard !== -1 && (v.soft === -1 || v.soft > v.hard))) {
        throw invalidArgument(`ulimit ${name}`, JSON.stringify(v), '{ soft, hard } integers with soft <= hard (-1 for unlimited)');
      }
      out[name] = { soft: v.soft, hard: v.hard };
    }
    return this.#with({ ulimits: out });
  }
  /**
   * Adds capabilities to Docker's default set, e.g. `'NET_ADMIN'` (testcontainers' name), or `'ALL'`. They hold within
   * the container's user namespace only: `SYS_ADMIN` lets it mount a tmpfs, not act on the host.
   */
  withAddedCapabilities(...caps: string[]): Container {
    const names = caps.map((c) => checkCapability(c, true)).flatMap((c) => (c === 'ALL' ? Object.keys(CAP_NUMBERS) : [c]));
    return this.#with({ capAdd: [...new Set([...this.#options.capAdd, ...names])] });
  }
  /** Drops capabilities from Docker's default set, e.g. `'CHOWN'`, or `'ALL'`. */
  withDroppedCapabilities(...caps: string[]): Container {
    return this.#with({ capDrop: [...this.#options.capDrop, ...caps.map((c) => checkCapability(c, true))] });
  }
  /**
   * Docker's `--security-opt`. Containers run under Docker's default seccomp profile (syscalls such
   * as `unshare(CLONE_NEWUSER)`, `keyctl`, `mount` without CAP_SYS_ADMIN, `bpf` fail with EPERM);
   * `'seccomp=unconfined'` runs this container and its execs without it. `'no-new-privileges'`
   * (also `:true`) sets `no_new_privs` for the process and its execs (setuid binaries and file
   * capabilities then grant nothing); as in Docker it is off by default.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for any other option (seccomp profile files, AppArmor, SELinux labels).
   * @example
   * import { Container } from 'slipway';
   * new Container('ghcr.io/acme/sandbox').withSecurityOpt('seccomp=unconfined');
   */
  withSecurityOpt(...options: string[]): Container {
    let seccomp = this.#options.seccomp;
    let noNewPrivileges = this.#options.noNewPrivileges;
    for (const o of options) {
      if (o === 'seccomp=unconfined' || o === 'seccomp:unconfined') seccomp = 'unconfined';
      else if (['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true'].includes(o)) noNewPrivileges = true;
      else if (['no-new-privileges:false', 'no-new-privileges=false'].includes(o)) noNewPrivileges = false;
      else {
        throw invalidArgument('security option', o, '"seccomp=unconfined" or "no-new-privileges" (other seccomp profiles, AppArmor and SELinux options are not supported)');
      }
    }
    return this.#with({ seccomp, noNewPrivileges });
  }
  /**
   * Adds /etc/hosts entries (Docker's `--add-host`).
   * @example
   * import { Container } from 'slipway';
   * new Container('my-app:1').withExtraHosts({ 'api.test': '10.0.2.2' });
   */
  withExtraHosts(hosts: Record<string, string>): Container {
    const out = { ...this.#options.extraHosts };
    for (const [name, ip] of Object.entries(hosts)) {
      if (!HOSTNAME.test(name)) throw invalidArgument('extra host name', name, 'a DNS name such as "api.test"');
      if (typeof ip !== 'string' || isIP(ip) === 0) throw invalidArgument(`extra host ${name}`, ip, 'an IPv4 or IPv6 address such as 10.0.2.2 or fd00::1');
      out[name] = ip;
    }
    return this.#with({ extraHosts: out });
  }
  /** Size of /dev/shm. @defaultValue 64m */
  withShmSize(size: string | number): Container { return this.#with({ shmSize: parseMemory(size, 'shmSize') }); }
  /** Apply resource limits where the host can enforce them and only log the others, instead of failing. */
  withBestEffortLimits(enabled = true): Container { return this.#with({ bestEffortLimits: enabled }); }
  /** @defaultValue the `pullPolicy` setting (`$SLIPWAY_PULL_POLICY`, `slipway.config.json`), else 'missing' */
  withPullPolicy(policy: 'missing' | 'always' | 'never'): Container {
    if (!['missing', 'always', 'never'].includes(policy)) throw invalidArgument('pull policy', policy, '"missing", "always" or "never"');
    return this.#with({ pullPolicy: policy });
  }
  /** e.g. `linux/arm64/v8`; defaults to the host's. */
  withPlatform(platform: string): Container {
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(platform)) throw invalidArgument('platform', platform, 'os/arch[/variant] such as linux/amd64');
    return this.#with({ platform });
  }
  /**
   * A health check, as `docker run --health-cmd` (and testcontainers' `withHealthCheck`): it replaces the image's
   * HEALTHCHECK, and the default wait (no {@link waitFor}) and `Wait.forHealthCheck()` run it until it passes.
   * `test` is `['CMD-SHELL', script]` (run by /bin/sh -c), `['CMD', ...argv]` or `['NONE']` (disables the image's).
   * Durations are in milliseconds. `startInterval` (Docker ≥ 25's `--health-start-interval`) is the interval between
   * runs during `startPeriod`, `interval` the one after it.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for another `test` form or a negative or non-numeric duration.
   * @example
   * import { Container } from 'slipway';
   * new Container('postgres:16').withHealthCheck({ test: ['CMD-SHELL', 'pg_isready -U test'], interval: 250, retries: 50 });
   */
  withHealthCheck(check: { test: readonly string[]; interval?: number; timeout?: number; retries?: number; startPeriod?: number; startInterval?: number }): Container {
    return this.#with({ healthcheck: checkHealthCheck(check) });
  }
  /** Readiness condition. Default: the health check ({@link withHealthCheck}, else the image's HEALTHCHECK), else published TCP ports listening, else none. */
  waitFor(strategy: WaitStrategy): Container { return this.#with({ waitStrategy: strategy }); }

  /**
   * Starts from a snapshot of the initialised service. The first start with this configuration runs normally; once
   * ready (and after `opts.prepare`), the service is quiesced (`opts.quiesce`, then its stop signal: it must exit
   * with code 0), its writable layer is stored as a snapshot layer, and it starts again from it on the same host
   * ports. Later starts with the same key (image digest and layers, env, command, entrypoint, user, workdir, files
   * copied in, mount targets, `opts.salt`) mount that layer read-only under a fresh writable layer, so the image's
   * init work (initdb, seed scripts) is skipped. Concurrent first starts in several processes build it once.
   * `StartedContainer.reset()` goes back to it. `slipway snapshots ls|rm|prune` manage them.
   * Data below a bind mount or volume is not in the snapshot.
   * @throws SlipwayError (at start) `ERR_SNAPSHOT` when the service did not shut down cleanly for the snapshot.
   * @example
   * import { Container, Wait } from 'slipway';
   * const ready = Wait.forLogMessage(/Ready to accept connections/);
   * await using redis = await new Container('redis:7').expose(6379).waitFor(ready).withSnapshot().start();
   * await redis.reset(); // back to the snapshot, same port
   */
  withSnapshot(opts: SnapshotOptions = {}): Container {
    if (typeof opts !== 'object' || opts === null) throw invalidArgument('withSnapshot options', opts, 'an object such as { salt: "v2" }');
    if (opts.salt !== undefined && typeof opts.salt !== 'string') throw invalidArgument('snapshot salt', opts.salt, 'a string');
    for (const k of ['prepare', 'quiesce'] as const) {
      if (opts[k] !== undefined && typeof opts[k] !== 'function') throw invalidArgument(`snapshot ${k}`, opts[k], 'an async function of the started container');
    }
    return this.#with({ snapshot: { ...opts } });
  }

  /** No snapshot: turns `withSnapshot()` off, and a module's default snapshot (PostgreSQL's, Redis' with initial data) too. */
  withoutSnapshot(): Container { return this.#with({ snapshot: false }); }
  /**
   * Bounds the wait for readiness (not the pull: see {@link withPullTimeout}), for strategies without a timeout of
   * their own; also after `restart()`. `0` times out at once (as in testcontainers), `Infinity` never. The boot before
   * the wait (namespaces, network helper, copies, ports) is bounded by the same value on its own (`0`: the setting's),
   * failing with `ERR_START_TIMEOUT` and removing the container, so a stuck step never hangs a test run.
   * @defaultValue the `startupTimeout` setting (`$SLIPWAY_STARTUP_TIMEOUT`, `slipway.config.json`), else 60000
   */
  withStartupTimeout(ms: number): Container {
    if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw invalidArgument('startupTimeout', ms, 'a number of milliseconds >= 0');
    return this.#with({ startupTimeout: ms });
  }
  /**
   * Bounds the image pull of `start()` (every registry request, retry and unpack), so a registry that stalls
   * fails the start with `ERR_PULL_TIMEOUT` instead of holding it; the wait for readiness has its own
   * {@link withStartupTimeout}. `Infinity` removes the bound.
   * @defaultValue the `pullTimeout` setting (`$SLIPWAY_PULL_TIMEOUT`, `slipway.config.json`), else 600000 (10 minutes)
   * @example
   * import { Container } from 'slipway';
   * new Container('redis:7').withPullTimeout(120_000);
   */
  withPullTimeout(ms: number): Container {
    if (ms !== Infinity && (!Number.isFinite(ms) || ms <= 0)) throw invalidArgument('pullTimeout', ms, 'a positive number of milliseconds, or Infinity');
    return this.#with({ pullTimeout: ms });
  }
  /**
   * Keeps the container for reuse across runs (testcontainers' `withReuse()`): `start()` hands back the running
   * container whose configuration matches (same id, same host ports: image digest, command, env, user, files, mounts,
   * ports, limits, labels… all count; how to pull or wait does not), from this process or an earlier one, and starts
   * one only when there is none. Such containers belong to the user's reuse keeper, a detached slipway process, not to
   * the test process: they outlive it and are removed once no process used them for the `reuseIdleTimeout` setting
   * (`$SLIPWAY_REUSE_IDLE_TIMEOUT`, default 10 minutes). `await using` and {@link StartedContainer.release} let go of
   * one; `remove()` removes it at once, for every process; `slipway ps` lists them, `slipway rm` removes them. The
   * wait strategy runs on every start, reused or not. The `reuse` setting (`TESTCONTAINERS_REUSE_ENABLE=false`,
   * `testcontainers.reuse.enable=false`) turns reuse off everywhere.
   *
   * Not with user networks or volumes (they belong to this process); `copyTo`, `copyFrom`, `commit()` and `reset()`
   * are not available on a reused container, and `withSnapshot()` does not apply to it (it is warm already).
   * @example
   * import { Container } from 'slipway';
   * // The first run starts redis; the next runs (other processes) get the same container, ready at once.
   * await using redis = await new Container('redis:7').expose(6379).withReuse().start();
   */
  withReuse(enabled = true): Container { return this.#with({ reuse: enabled === true }); }
  /** Signal sent by stop(); defaults to the image's StopSignal, else SIGTERM. */
  withStopSignal(signal: string | number): Container { return this.#with({ stopSignal: checkSignal('stop signal', signal) }); }

  /**
   * Pulls the image if needed, starts the container and waits until it is ready. `onLaunched` is called once the
   * process runs, before the wait (to follow its logs while it starts, as testcontainers' log consumers do), and the
   * wait begins once it returns (or its promise resolves); if it throws, the container is removed and `start()` rejects
   * with that error.
   * @example
   * import { Container } from 'slipway';
   * await new Container('redis:7').start({
   *   onLaunched: (c) => void (async () => { for await (const line of c.logs({ follow: true })) console.log(line); })(),
   * });
   */
  async start(opts: { signal?: AbortSignal; onLaunched?: (container: StartedContainer) => void | Promise<void> } = {}): Promise<StartedContainer> {
    const { startContainer } = await (startModule ??= import('./start.js'));
    return startContainer(this.#options, opts.signal, opts.onLaunched);
  }

  /** Runs the container to completion and returns its exit code and output (`docker run --rm`). */
  async run(opts: { signal?: AbortSignal } = {}): Promise<{ exitCode: number | null; signal: string | null; stdout: string; stderr: string }> {
    const [{ Wait }, { outputOf }] = await Promise.all([waitModule ??= import('./wait/index.js'), startedModule ??= import('./started-container.js')]);
    const c = await this.#with({ waitStrategy: Wait.none() }).start(opts);
    const mark = phaseTimer(phaseLog, c.name);
    try {
      const exit = await c.wait();
      mark('exit report');
      const { stdout, stderr } = await outputOf(c);
      mark('output read');
      return { exitCode: exit.exitCode, signal: exit.signal, stdout, stderr };
    } finally {
      await c.remove();
      mark('teardown');
    }
  }
}

function checkCapability(cap: string, allowAll: boolean): string {
  const name = typeof cap === 'string' ? cap.toUpperCase().replace(/^CAP_/, '') : '';
  if (!(name in CAP_NUMBERS) && !(allowAll && name === 'ALL')) {
    throw invalidArgument('capability', cap, `a Linux capability name such as "NET_ADMIN"${allowAll ? ' or "ALL"' : ''}`);
  }
  return name;
}

function checkHealthCheck(check: { test: readonly string[]; interval?: number; timeout?: number; retries?: number; startPeriod?: number; startInterval?: number }): HealthcheckConfig {
  const test = check?.test;
  const form = Array.isArray(test) ? test[0] : undefined;
  const ok = Array.isArray(test) && test.every((a) => typeof a === 'string' && !a.includes('\0')) &&
    ((form === 'CMD' && test.length > 1) || (form === 'CMD-SHELL' && test.length === 2) || (form === 'NONE' && test.length === 1));
  if (!ok) throw invalidArgument('health check test', test, `['CMD-SHELL', 'script'], ['CMD', 'argv0', ...] or ['NONE']`);
  const ns = (name: string, ms: number | undefined): number | undefined => {
    if (ms === undefined) return undefined;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw invalidArgument(`health check ${name}`, ms, 'a number of milliseconds, 0 or more');
    return Math.round(ms * 1e6);
  };
  if (check.retries !== undefined && (!Number.isSafeInteger(check.retries) || check.retries < 0)) throw invalidArgument('health check retries', check.retries, 'an integer, 0 or more');
  return {
    Test: [...test], Interval: ns('interval', check.interval), Timeout: ns('timeout', check.timeout),
    Retries: check.retries, StartPeriod: ns('startPeriod', check.startPeriod), StartInterval: ns('startInterval', check.startInterval),
  };
}

function checkMode(mode: number | undefined): void {
  if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) throw invalidArgument('file mode', mode, 'an octal mode such as 0o644');
}

function checkProtocol(protocol: unknown): 'tcp' | 'udp' {
  if (protocol === undefined || protocol === 'tcp' || protocol === 'TCP') return 'tcp';
  if (protocol === 'udp' || protocol === 'UDP') return 'udp';
  throw invalidArgument('expose.protocol', protocol, '"tcp" or "udp"');
}

function checkHostIp(ip: unknown): string {
  if (typeof ip !== 'string' || isIP(ip) === 0) throw invalidArgument('hostIp', ip, 'an IPv4 or IPv6 address of this host such as 127.0.0.1, 0.0.0.0 or ::1');
  return ip;
}

/** The smallest pids limit a container can run under: slipway's init and the process. */
const MIN_PIDS = 2;

/** `SIGTERM`, `TERM`, `term` or `15` → `SIGTERM`; anything Node does not know as a signal is refused. */
function checkSignal(option: string, signal: unknown): string {
  const known = osConstants.signals as Record<string, number>;
  const text = typeof signal === 'number' ? String(signal) : typeof signal === 'string' ? signal.trim().toUpperCase() : '';
  if (/^\d+$/.test(text)) {
    const name = Object.keys(known).find((k) => known[k] === Number(text));
    if (name) return name;
  } else {
    const name = text.startsWith('SIG') ? text : `SIG${text}`;
    if (name in known) return name;
  }
  const numbers = Object.values(known);
  throw invalidArgument(option, signal, `a signal name such as SIGTERM, SIGINT or SIGQUIT, or its number (1 to ${Math.max(...numbers)})`);
}

export { SlipwayError };

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, lstatSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { isIPv4, type Socket } from 'node:net';
import { dirname, posix } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import { helperPath } from './helper-path.js';
import { mapUserNamespace, mappingKey, type IdMapping, type MapOptions } from './id-mapping.js';
import { SUBID_FIX, singleMappingError, subordinateIdStatus } from './subordinate-ids.js';
import { parseOwnershipList } from '../../image/unpack.js';
import { CHUNK, FrameDecoder, FrameType, PROTOCOL_VERSION, Tag, WINDOW, encodeFrame, field, tlv, type Field, type Frame } from './protocol.js';
import { KeeperError, errorFromFrame } from './keeper-error.js';

export { KeeperError, errorFromFrame, type KeeperErrorKind } from './keeper-error.js';
import { stateRootChoice } from './state-root.js';
import { upperPlacement, type UpperPlacement } from '../upper-placement.js';
import { runOwners } from './run-owner.js';

const log = logger('keeper');
const helperLog = logger('keeper:helper');

/** A bind or tmpfs mount in a {@link KeeperContainerSpec}. */
export type KeeperMount =
  | { type: 'bind'; source: string; target: string; readonly?: boolean }
  | {
    type: 'tmpfs'; target: string; /** bytes */ size?: number; /** e.g. 0o1777 */ mode?: number; readonly?: boolean;
    /** Option words (`tmpfsWords`: flags and data); when given, size and mode are taken from them only. */
    options?: string[];
  };

/** Resource limit for the container process; clamped to the keeper's hard limit. */
export interface KeeperRlimit {
  /** e.g. 'RLIMIT_NOFILE' or the numeric resource. */
  resource: string | number;
  soft: number;
  hard: number;
}

/** Process fields shared by the main process and exec. */
export interface KeeperProcessSpec {
  argv: string[];
  /** `KEY=value` entries; PATH lookup for argv[0] uses this environment's PATH. */
  env: string[];
  /** Absolute; created when missing (main process only). @defaultValue '/' */
  cwd?: string;
  uid: number;
  gid: number;
  groups?: number[];
  /** Capability names (e.g. 'CAP_NET_ADMIN') or numbers. @defaultValue Docker's 14 default capabilities */
  capabilities?: (string | number)[];
  /** @defaultValue true */
  noNewPrivileges?: boolean;
  rlimits?: KeeperRlimit[];
}

/** Everything the keeper needs to create one container. */
export interface KeeperContainerSpec extends KeeperProcessSpec {
  /** Unique per keeper. */
  id: string;
  /** The container's own directory (inside {@link Keeper.stateDir}); removed by removeContainer(). */
  stateDir: string;
  /** Overlay lower dirs, top layer first. Ignored when `rootfs` is set. */
  lowerDirs?: string[];
  upperDir?: string;
  workDir?: string;
  /** A plain root directory instead of an overlay. */
  rootfs?: string;
  hostname?: string;
  /** 'isolated' and 'none' get a new network namespace (lo up); 'host' shares the keeper's. */
  netMode?: 'isolated' | 'none' | 'host';
  /**
   * Isolated mode: name of a persistent tap device init creates in the container's network namespace
   * (the outbound helper's interface, e.g. `'eth0'`). slirp4netns and pasta attach to it instead of
   * making their own, and then stop in about 1 ms instead of 15-45 ms (closing the only fd of a
   * non-persistent tap unregisters it synchronously); the device goes with the namespace. Best effort.
   */
  tap?: string;
  /**
   * Isolated mode: the command line of the outbound helper (slirp4netns) for a prepared network namespace, `null`
   * where the keeper writes the path of the namespace's fd (`--netns-type=path <path>`). The keeper keeps one
   * namespace per command line ready, with the helper attached (native/netpool.h): a CREATE that finds one joins it,
   * and the OUTBOUND that follows (with the same options) is answered at once. Unset: today's path, always.
   */
  outboundPool?: ReadonlyArray<string | null>;
  /**
   * Isolated mode: IPv4 CIDRs (at most 8) init gives an `unreachable` route before the process starts,
   * e.g. `['10.89.0.0/16']`: a connect to them fails at once (EHOSTUNREACH) instead of leaving through
   * the outbound helper's default route to the host's network.
   */
  unreachable?: string[];
  /**
   * `'default'`: Docker's default seccomp profile, resolved against {@link capabilities}, for the
   * main process and every exec; `'unconfined'`: no filter.
   * @defaultValue 'default'
   */
  seccomp?: 'default' | 'unconfined';
  mounts?: KeeperMount[];
  /** Bytes. @defaultValue 64 MiB */
  shmSize?: number;
  /** Files bound over /etc/hosts, /etc/hostname and /etc/resolv.conf (created empty when missing). */
  etcFiles?: { hosts?: string; hostname?: string; resolvConf?: string };
  /** CRI-format log file; rotated to `<logPath>.1` above `logMaxBytes`. */
  logPath?: string;
  /** @defaultValue 16 MiB */
  logMaxBytes?: number;
}

/** A process to run in a running container. */
export type KeeperExecSpec = KeeperProcessSpec;

/** How a process ended: exactly one of the two is non-null. */
export interface KeeperExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** One file-system entry for putFiles()/getFiles(). */
export interface KeeperFileEntry {
  /** Absolute path inside the container. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime?: Date;
  /** A file's content. getFiles(): set for files of at most one chunk (1 MiB); larger ones come as `contentStream`. */
  content?: Buffer;
  /** getFiles() only: a file's size in bytes (the length of `content` or of everything `contentStream` yields). */
  size?: number;
  /**
   * getFiles() only: the content of a file above one chunk, in chunks of at most 1 MiB, paced by the
   * reader (the keeper holds at most a few chunks). Read it before asking for the next entry; what is
   * left unread is skipped then. Throws the GET's failure (e.g. the file shrank while it was read).
   */
  contentStream?: AsyncIterable<Buffer>;
  linkTarget?: string;
  /**
   * getFiles() only: the path relative to the requested path's parent, as the container's bytes
   * (names need not be UTF-8; `path` is a lossy decoding). Its first component is the requested
   * name (`.` for `/`).
   */
  relPath?: Buffer;
  /** getFiles() only: a symlink's target as the container's bytes (`linkTarget` is a lossy decoding). */
  linkBytes?: Buffer;
}

/** An entry read by getFiles(): always has its name bytes. */
export type KeeperGetEntry = KeeperFileEntry & { relPath: Buffer };

/** Port publishing request. */
export interface KeeperPublishSpec {
  protocol: 'tcp' | 'udp';
  /** @defaultValue '127.0.0.1' */
  hostIp?: string;
  /** 0 or undefined: an ephemeral port. */
  hostPort?: number;
  containerPort: number;
}

/** A GET credit: the reader took one GET_DATA chunk, the keeper may send the next. */
const CREDIT = Buffer.from([1]);
/** Credits granted on a GET's first frame on top of the keeper's WINDOW: 16 frames (at most 16 MiB) in flight per GET. */
const EXTRA_CREDITS = Buffer.alloc(12, 1);

/**
 * Requests the keeper serves in a forked worker each, and that a caller (or a container, through probes that hang)
 * can multiply: at most {@link MAX_WORKERS} are in flight per keeper, the rest wait their turn in Node, so a careless
 * `Promise.all` of thousands of execs or copies cannot fork thousands of processes. RMTREE and CHOWN_LIST are not
 * capped: their number is bounded by containers and layers, and a removal must never wait behind another
 * container's long-running execs.
 */
const WORKER_REQUESTS: ReadonlySet<number> = new Set([FrameType.EXEC, FrameType.PUT, FrameType.GET, FrameType.NET_ATTACH]);
/** Concurrent worker requests per keeper (see {@link WORKER_REQUESTS}). */
export const MAX_WORKERS = 64;
/**
 * A request that waited this long for a worker slot makes the process warn (once until the queue drains): a burst of
 * short execs never waits this long, while {@link MAX_WORKERS} never-ending ones (a `tail -f`, a server run by exec)
 * would otherwise make every later exec and copy wait forever without a word.
 */
export const WORKER_QUEUE_WARN_MS = 5_000;
const WORKER_REQUEST_NAMES: Record<number, string> = { [FrameType.EXEC]: 'exec', [FrameType.PUT]: 'copy in', [FrameType.GET]: 'copy out', [FrameType.NET_ATTACH]: 'network attach' };

const PROTOCOLS: Record<string, number> = { tcp: 1, udp: 2 };
/** Docker's default capability set, by name without the CAP_ prefix. */
export const DOCKER_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];
/** Capability numbers by name without the CAP_ prefix. */
export const CAP_NUMBERS: Readonly<Record<string, number>> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8,
  LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13, IPC_LOCK: 14, IPC_OWNER: 15,
  SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23,
  SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31,
  MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37, PERFMON: 38, BPF: 39,
  CHECKPOINT_RESTORE: 40,
};
const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** Decodes a raw wait(2) status. */
export function decodeWaitStatus(status: number): KeeperExit {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  return { exitCode: null, signal: signalName(sig) };
}

function signalName(n: number): NodeJS.Signals {
  const e = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return (e?.[0] ?? `SIG${n}`) as NodeJS.Signals;
}

function capMask(caps: (string | number)[] | undefined): bigint {
  let mask = 0n;
  for (const c of caps ?? DOCKER_CAPS) {
    const n = typeof c === 'number' ? c : CAP_NUMBERS[c.toUpperCase().replace(/^CAP_/, '')];
    if (n === undefined) throw new SlipwayError('ERR_INVALID_ARGUMENT', `unknown capability ${String(c)}`, { hint: `use names like CAP_NET_ADMIN (known: ${Object.keys(CAP_NUMBERS).join(', ')})` });
    mask |= 1n << BigInt(n);
  }
  return mask;
}

/** @internal The TLVs of a process spec (EXEC, and CREATE's process); exported for tests that drive the helper directly. */
export function processFields(p: KeeperProcessSpec): Field[] {
  if (!Array.isArray(p.argv) || p.argv.length === 0) throw new SlipwayError('ERR_INVALID_ARGUMENT', 'empty argv', { hint: 'give the command to run as a non-empty array' });
  const f: Field[] = [];
  for (const a of p.argv) f.push(tlv.str(Tag.ARG, a));
  for (const e of p.env) f.push(tlv.str(Tag.ENV, e));
  if (p.cwd !== undefined) f.push(tlv.str(Tag.CWD, p.cwd));
  f.push(tlv.u32(Tag.UID, p.uid), tlv.u32(Tag.GID, p.gid));
  for (const g of p.groups ?? []) f.push(tlv.u32(Tag.GROUP, g));
  f.push(tlv.u64(Tag.CAPS, capMask(p.capabilities)));
  f.push(tlv.u8(Tag.NO_NEW_PRIVS, p.noNewPrivileges === false ? 0 : 1));
  for (const r of p.rlimits ?? []) {
    const res = typeof r.resource === 'number' ? r.resource : RLIMITS[r.resource.toUpperCase()];
    if (res === undefined) throw new SlipwayError('ERR_INVALID_ARGUMENT', `unknown rlimit ${String(r.resource)}`, { hint: `use one of ${Object.keys(RLIMITS).join(', ')}` });
    const clamp = (n: number): bigint => (n < 0 || !Number.isFinite(n) ? 0xffffffffffffffffn : BigInt(Math.floor(n)));
    f.push(tlv.nested(Tag.RLIMIT, [tlv.u32(Tag.RESOURCE, res), tlv.u64(Tag.SOFT, clamp(r.soft)), tlv.u64(Tag.HARD, clamp(r.hard))]));
  }
  return f;
}

function ensureFile(path: string): void {
  closeSync(openSync(path, 'a', 0o644));
}

/** `unreachable` route fields (IPv4 CIDRs, at most 8). */
function unreachableFields(cidrs: readonly string[], where: string): Field[] {
  if (cidrs.length > 8) throw new SlipwayError('ERR_INVALID_ARGUMENT', `at most 8 unreachable routes ${where}`, { hint: 'cover the subnets with fewer, wider CIDRs' });
  return cidrs.map((cidr) => {
    const [addr, bits] = cidr.split('/');
    if (!isIPv4(addr ?? '') || !/^\d{1,2}$/.test(bits ?? '') || Number(bits) > 32) throw new SlipwayError('ERR_INVALID_ARGUMENT', `unreachable route ${cidr} is not an IPv4 CIDR`, { hint: 'use a form like 10.89.0.0/16' });
    return tlv.str(Tag.UNREACHABLE, cidr);
  });
}

/** @internal The TLVs of a CREATE; exported for tests that drive the helper directly. */
export function containerFields(s: KeeperContainerSpec): Field[] {
  const f: Field[] = [tlv.str(Tag.ID, s.id), tlv.str(Tag.STATE_DIR, s.stateDir)];
  if (s.rootfs) f.push(tlv.str(Tag.ROOTFS, s.rootfs));
  else {
    if (!s.lowerDirs?.length || !s.upperDir || !s.workDir) throw new SlipwayError('ERR_INVALID_ARGUMENT', `container ${s.id}: no root file system`, { hint: 'give rootfs, or lowerDirs + upperDir + workDir' });
    for (const l of s.lowerDirs) f.push(tlv.str(Tag.LOWER, l));
    f.push(tlv.str(Tag.UPPER, s.upperDir), tlv.str(Tag.WORK, s.workDir));
  }
  f.push(...processFields(s));
  if (s.hostname) f.push(tlv.str(Tag.HOSTNAME, s.hostname));
  f.push(tlv.u8(Tag.NET, s.netMode === 'host' ? 2 : s.netMode === 'none' ? 1 : 0));
  if (s.tap && (s.netMode ?? 'isolated') === 'isolated') f.push(tlv.str(Tag.TAP, s.tap));
  if (s.outboundPool?.length && (s.netMode ?? 'isolated') === 'isolated') {
    for (const a of s.outboundPool) f.push(a === null ? tlv.str(Tag.POOL_ARG_NETNS, '') : tlv.str(Tag.POOL_ARG, a));
  }
  if ((s.netMode ?? 'isolated') === 'isolated') f.push(...unreachableFields(s.unreachable ?? [], 'per container'));
  f.push(tlv.u8(Tag.SECCOMP, s.seccomp === 'unconfined' ? 0 : 1));
  f.push(tlv.u64(Tag.SHM_SIZE, s.shmSize ?? 64 * 1024 * 1024));
  if (s.logPath) f.push(tlv.str(Tag.LOG_PATH, s.logPath), tlv.u64(Tag.LOG_MAX, s.logMaxBytes ?? 16 * 1024 * 1024));
  const binds: KeeperMount[] = [];
  const etc = s.etcFiles ?? {};
  for (const [src, dst] of [[etc.hosts, '/etc/hosts'], [etc.hostname, '/etc/hostname'], [etc.resolvConf, '/etc/resolv.conf']] as const) {
    if (!src) continue;
    ensureFile(src);
    binds.push({ type: 'bind', source: src, target: dst });
  }
  for (const m of [...binds, ...(s.mounts ?? [])]) {
    if (!posix.isAbsolute(m.target)) throw new SlipwayError('ERR_INVALID_ARGUMENT', `mount target ${m.target} is not absolute`, { hint: 'mount targets are absolute paths inside the container' });
    const mf: Field[] = [tlv.u8(Tag.MOUNT_TYPE, m.type === 'bind' ? 1 : 2), tlv.str(Tag.DST, m.target), tlv.u8(Tag.READONLY, m.readonly ? 1 : 0)];
    if (m.type === 'bind') mf.push(tlv.str(Tag.SRC, m.source));
    else {
      const opts = m.options ?? [`mode=${(m.mode ?? 0o1777).toString(8).padStart(4, '0')}`, ...(m.size ? [`size=${m.size}`] : [])];
      // Flag words (noexec, ro…) travel with the data: the keeper splits them (spec.c), and a helper that did not
      // know them would hand them to the kernel as tmpfs data, which refuses them: never a silently writable mount.
      mf.push(tlv.str(Tag.OPTIONS, opts.join(',')));
    }
    f.push(tlv.nested(Tag.MOUNT, mf));
  }
  return f;
}

/** A streamed request's id once sent; `cancelled` gives it up while it still waits for a worker slot. */
interface RequestStream {
  reqid?: number;
  cancelled?: boolean;
  /** Sent with CHUNKED (its input or credits follow as DATA frames). @defaultValue true */
  chunked?: boolean;
}

interface Pending {
  /** A user-network request: its errors are ERR_NETWORK. */
  network?: boolean;
  resolve(frame: Frame): void;
  reject(err: Error): void;
  onFrame?(frame: Frame): void;
  /** A DATA frame of this request's input was handed on by the keeper (DATA_ACK). */
  onAck?(): void;
}

/**
 * A GET whose path is not there becomes ERR_COPY_SOURCE_MISSING naming it; one that finds the
 * container's process gone, ERR_CONTAINER_NOT_RUNNING; other errors pass.
 */
function getError(e: unknown, path: string): unknown {
  // The keeper knows the process exited (ESRCH), or init died while the GET was joining it (ENOENT).
  if (KeeperError.isKind(e, 'container-state', 'ESRCH') || KeeperError.isKind(e, 'container-state', 'ENOENT')) {
    return new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `cannot copy ${path}: the container's process is gone (removed or exited)`, {
      cause: e, hint: 'copy files out before stop() or remove(), and await copyFrom() before removing the container',
    });
  }
  if (!KeeperError.isKind(e, 'not-found', 'ENOENT') && !KeeperError.isKind(e, 'not-found', 'ENOTDIR')) return e;
  return new SlipwayError('ERR_COPY_SOURCE_MISSING', `${path} does not exist in the container`, {
    cause: e,
    hint: `check the path with exec(['ls', '-la', '${posix.dirname(path)}']); paths are absolute and resolve inside the container (a final symlink is copied as a link, not followed)`,
  });
}

const UNAVAILABLE_HINT = 'enable unprivileged user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian/Ubuntu), `sysctl -w user.max_user_namespaces=15000`; on Ubuntu >= 24.04 `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile with `userns,` for the slipway helper';

let singleton: Promise<Keeper> | undefined;
/** The keeper `singleton` resolved to: only its own end may clear the singleton (a keeper made by start() must not). */
let current: Keeper | undefined;
let warnedSingle = false;

/**
 * The per-process keeper: a native helper that owns a user namespace and every container of this
 * Node process. Started lazily by {@link Keeper.get}; when Node exits (even by SIGKILL) the keeper
 * kills all containers and removes their state.
 */
export class Keeper {
  /** Key for id-dependent caches (unpacked layers): `root`, `subid-…` or `single-…`. */
  readonly mappingKey: string;
  /** How ids are mapped into the keeper's user namespace. */
  readonly mapping: IdMapping;
  /** This keeper's directory (`<stateRoot>/keeper-<pid>`), locked while it lives. */
  readonly stateDir: string;
  /** Host pid of the helper process. */
  readonly pid: number;
  /** Helper build id from HELLO. */
  readonly buildId: string;

  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #exits = new Map<string, KeeperExit>();
  readonly #waiters = new Map<string, { resolve(e: KeeperExit): void; reject(e: Error): void; ref: boolean }[]>();
  #nextId = 1;
  /** Worker requests in flight, and those waiting for one of the {@link MAX_WORKERS} slots. */
  #workers = 0;
  readonly #workerQueue: (() => void)[] = [];
  /** Worker requests running, by frame type (for the queue warning). */
  readonly #running = new Map<number, number>();
  #queueWarned = false;
  /** Per container id: how to cancel each of its GETs still in flight. */
  readonly #getCancels = new Map<string, Set<() => void>>();
  #dead: Error | undefined;
  #closed: Promise<void> | undefined;
  /** Whether the state root was chosen by the `stateDir` setting (or the caller), not found. */
  readonly #stateDirExplicit: boolean;
  /** {@link upperPlacement} per store root. */
  readonly #placements = new Map<string, UpperPlacement>();

  private constructor(child: ChildProcess, hello: Frame, mapping: IdMapping, stateDirExplicit: boolean) {
    this.#child = child;
    this.#stateDirExplicit = stateDirExplicit;
    this.mapping = mapping;
    this.mappingKey = mappingKey(mapping);
    this.stateDir = field.str(hello.fields, Tag.STATE_DIR) ?? '';
    this.pid = field.uint(hello.fields, Tag.PID) ?? child.pid ?? 0;
    this.buildId = field.str(hello.fields, Tag.BUILD_ID) ?? '';
  }

  /** The keeper {@link Keeper.get} resolves to now, when it has started and lives; else undefined. */
  static running(): Keeper | undefined {
    return current;
  }

  /** The keeper of this process, started on first use. A keeper that died is replaced. */
  static get(): Promise<Keeper> {
    if (!singleton) {
      const starting = Keeper.start();
      singleton = starting;
      starting.then((k) => {
        if (singleton !== starting) return;
        // It may have died between HELLO and here.
        if (k.#dead || k.#closed) singleton = undefined;
        else current = k;
      }, () => { if (singleton === starting) singleton = undefined; });
    }
    return singleton;
  }

  /** Starts a new keeper (prefer {@link Keeper.get}). @throws SlipwayError ERR_HELPER_MISSING, ERR_HELPER_STALE, ERR_RUNTIME_UNAVAILABLE */
  static async start(opts: { stateRoot?: string; mapping?: Omit<MapOptions, 'onSingle'> } = {}): Promise<Keeper> {
    const bin = helperPath();
    const { dir: root, explicit } = opts.stateRoot !== undefined ? { dir: opts.stateRoot, explicit: true } : stateRootChoice();
    // Besides this process (stdin EOF), the keeper watches the test run's root process, if any.
    const owners = runOwners().map((o) => `--watch=${o}`);
    if (owners.length) log('keeper watches %s', owners.join(' '));
    // detached: a session of its own, so a terminal's Ctrl-C (SIGINT to the foreground process group) or hang-up
    // reaches Node only, which stops the containers in order; the keeper still dies with Node (EOF, PDEATHSIG).
    const child = spawn(bin, ['keeper', root, ...owners], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const decoder = new FrameDecoder();
    let keeper: Keeper | undefined;
    let stderrTail = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderrTail = (stderrTail + s).slice(-2000);
      for (const line of s.split('\n')) if (line) helperLog('%s', line);
    });
    child.stdin!.on('error', (e) => log('keeper stdin: %s', e.message));
    return await new Promise<Keeper>((resolve, reject) => {
      let mapping: IdMapping | undefined;
      const fail = (err: Error): void => {
        if (keeper) keeper.#die(err);
        else {
          child.kill('SIGKILL');
          reject(err);
        }
      };
      child.on('error', (e) => fail(new SlipwayError('ERR_HELPER_MISSING', `cannot start ${bin}: ${e.message}`, { cause: e, hint: `run: make -C ${dirname(dirname(bin))}` })));
      child.on('exit', (code, sig) => {
        const tail = stderrTail.trim().split('\n').slice(-3).join('; ');
        fail(new SlipwayError('ERR_RUNTIME', `keeper exited (${sig ?? `code ${code}`})${tail ? `: ${tail}` : ''}`, { hint: 'run with DEBUG=slipway:keeper* for the helper log' }));
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (e) {
          fail(new SlipwayError('ERR_HELPER_PROTOCOL', `bad frame from keeper: ${(e as Error).message}`, { hint: 'rebuild the helper: make -C native' }));
          return;
        }
        for (const f of frames) {
          if (keeper) { keeper.#onFrame(f); continue; }
          if (f.type === FrameType.NEED_MAP) {
            const pid = field.uint(f.fields, Tag.PID) ?? child.pid!;
            mapUserNamespace(pid, {
              ...opts.mapping,
              onSingle: (why) => {
                if (warnedSingle) return;
                warnedSingle = true;
                const fix = subordinateIdStatus().fix ?? `\`${SUBID_FIX}\``;
                console.warn(`slipway: only a single-id user namespace mapping is available (${why}); images with files of other owners, or that switch to a non-root user, will fail. Fix: ${fix}`);
              },
            }).then((m) => {
              mapping = m;
              child.stdin!.write(encodeFrame(FrameType.MAPPED, 0, [tlv.u8(Tag.TYPE, m.kind === 'identity' ? 1 : m.kind === 'subid' ? 2 : 3)]));
            }, (e: Error) => fail(new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `cannot map the user namespace: ${e.message}`, { cause: e, hint: 'install uidmap (newuidmap/newgidmap) and give your user a range in /etc/subuid and /etc/subgid' })));
          } else if (f.type === FrameType.ERROR) {
            const e = errorFromFrame(f);
            if (e.kind === 'userns') {
              fail(new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `cannot create a user namespace: ${e.shortMessage}`, { hint: UNAVAILABLE_HINT, cause: e }));
            } else fail(e);
          } else if (f.type === FrameType.HELLO) {
            const version = field.uint(f.fields, Tag.VERSION);
            if (version !== PROTOCOL_VERSION) {
              fail(new SlipwayError('ERR_HELPER_STALE', `native helper speaks protocol ${version}, this slipway needs ${PROTOCOL_VERSION}`, { hint: `rebuild it: make -C ${dirname(dirname(bin))} (or npm rebuild slipway)` }));
              return;
            }
            keeper = new Keeper(child, f, mapping ?? { kind: 'single', uidMap: [], gidMap: [] }, explicit);
            log('keeper %d ready (%s, %s), state %s', keeper.pid, keeper.mappingKey, keeper.buildId, keeper.stateDir);
            keeper.#updateRef();
            resolve(keeper);
          }
        }
      });
    });
  }

  /**
   * Where containers' writable layers go with the image store at `storeRoot` (see `upperPlacement`): decided once per
   * store root for this keeper's state dir (two statfs), not on every start; neither file system changes under it.
   */
  upperPlacement(storeRoot: string): UpperPlacement {
    let placement = this.#placements.get(storeRoot);
    if (!placement) {
      placement = upperPlacement(this.stateDir, storeRoot, this.#stateDirExplicit);
      this.#placements.set(storeRoot, placement);
    }
    return placement;
  }

  #onFrame(f: Frame): void {
    if (f.type === FrameType.EXIT) {
      const id = field.str(f.fields, Tag.ID) ?? '';
      const exit = decodeWaitStatus(field.uint(f.fields, Tag.STATUS) ?? 0);
      this.#exits.set(id, exit);
      for (const w of this.#waiters.get(id) ?? []) w.resolve(exit);
      this.#waiters.delete(id);
      this.#updateRef();
      return;
    }
    const p = this.#pending.get(f.reqid);
    if (!p) {
      log('frame %d for unknown request %d', f.type, f.reqid);
      return;
    }
    if (f.type === FrameType.DATA_ACK) {
      p.onAck?.();
      return;
    }
    if (f.type === FrameType.OK || f.type === FrameType.ERROR) {
      this.#pending.delete(f.reqid);
      this.#updateRef();
      if (f.type === FrameType.OK) p.resolve(f);
      else p.reject(errorFromFrame(f, { network: p.network }));
    } else p.onFrame?.(f);
  }

  #die(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    this.#forget();
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const ws of this.#waiters.values()) for (const w of ws) w.reject(err);
    this.#waiters.clear();
  }

  /** Lets the next {@link Keeper.get} start a new keeper, if this one is the process's keeper. */
  #forget(): void {
    if (current !== this) return;
    current = undefined;
    singleton = undefined;
  }

  /** Keeps Node alive only while requests are in flight or someone waits (with `ref`), so scripts can exit. */
  #updateRef(): void {
    let busy = this.#pending.size > 0;
    for (const ws of this.#waiters.values()) busy ||= ws.some((w) => w.ref);
    const streams = [this.#child.stdin, this.#child.stdout, this.#child.stderr] as unknown as (Socket | null)[];
    for (const s of streams) {
      if (busy) s?.ref?.();
      else s?.unref?.();
    }
    if (busy) this.#child.ref();
    else this.#child.unref();
  }

  /**
   * Sends one request (a worker request once one of the {@link MAX_WORKERS} slots is free); with `input`, the
   * request carries CHUNKED and the bytes follow as DATA frames
   * of at most {@link CHUNK} bytes, at most {@link WINDOW} unacknowledged, so no frame is ever above
   * the limit and the keeper never buffers more than a few MiB per request.
   */
  #request(type: number, fields: Field[], onFrame?: (f: Frame) => void, input?: Uint8Array | AsyncIterable<Uint8Array>, stream?: RequestStream): Promise<Frame> {
    if (!WORKER_REQUESTS.has(type)) return this.#send(type, fields, onFrame, input, stream);
    return new Promise<Frame>((resolve, reject) => {
      let waiting: NodeJS.Timeout | undefined;
      const go = (): void => {
        clearTimeout(waiting);
        if (stream?.cancelled) {
          this.#releaseWorker();
          reject(new SlipwayError('ERR_ABORTED', 'request given up before it was sent to the keeper'));
          return;
        }
        this.#running.set(type, (this.#running.get(type) ?? 0) + 1);
        this.#send(type, fields, onFrame, input, stream).then(resolve, reject).finally(() => {
          this.#running.set(type, this.#running.get(type)! - 1);
          this.#releaseWorker();
        });
      };
      if (this.#workers < MAX_WORKERS) {
        this.#workers++;
        go();
      } else {
        log('%d worker requests in flight: request %d waits', this.#workers, type);
        this.#workerQueue.push(go);
        waiting = setTimeout(() => this.#warnQueued(type), WORKER_QUEUE_WARN_MS).unref();
      }
    });
  }

  /** A request has waited {@link WORKER_QUEUE_WARN_MS} for a slot: say so, once until the queue drains. */
  #warnQueued(type: number): void {
    if (this.#queueWarned) return;
    this.#queueWarned = true;
    const running = [...this.#running].filter(([, n]) => n > 0).map(([t, n]) => `${n} ${WORKER_REQUEST_NAMES[t] ?? t}`).join(', ');
    const text = `slipway: a request (${WORKER_REQUEST_NAMES[type] ?? type}) has waited ${WORKER_QUEUE_WARN_MS / 1000} s for one of this process's ${MAX_WORKERS} keeper workers ` +
      `(running: ${running}; waiting: ${this.#workerQueue.length}). Each exec holds one until it ends: give long-running execs (tail -f, servers) an AbortSignal ` +
      `(exec(cmd, { signal })) or run them as a container's command, and read or destroy copy streams.`;
    log('%s', text);
    process.emitWarning(text, { code: 'SLIPWAY_WORKERS_BUSY' });
  }

  /** A worker request ended: its slot goes to the next waiting one. */
  #releaseWorker(): void {
    const next = this.#workerQueue.shift();
    if (next) next();
    else {
      this.#workers--;
      this.#queueWarned = false;
    }
  }

  #send(type: number, fields: Field[], onFrame?: (f: Frame) => void, input?: Uint8Array | AsyncIterable<Uint8Array>, stream?: RequestStream): Promise<Frame> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#closed) return Promise.reject(new SlipwayError('ERR_RUNTIME', 'keeper is closed'));
    let frame: Buffer;
    try {
      frame = encodeFrame(type, 0, input || (stream && stream.chunked !== false) ? [...fields, tlv.u8(Tag.CHUNKED, 1)] : fields);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const reqid = this.#nextId++;
    frame.writeUInt32LE(reqid, 5);
    if (stream) stream.reqid = reqid;
    return new Promise<Frame>((resolve, reject) => {
      const network = type === FrameType.NET_CREATE || type === FrameType.NET_REMOVE || type === FrameType.NET_ATTACH;
      const pending: Pending = { resolve, reject, onFrame, network };
      this.#pending.set(reqid, pending);
      this.#updateRef();
      this.#child.stdin!.write(frame);
      if (input instanceof Uint8Array) this.#sendInput(reqid, pending, input);
      else if (input) this.#sendStream(reqid, pending, input);
    });
  }

  /** One DATA frame for a request still in flight (GET credits, or EOF to cancel it); nothing once it is answered. */
  #sendData(reqid: number, data?: Uint8Array, eof = false): void {
    if (this.#dead || !this.#pending.has(reqid)) return;
    const f: Field[] = [];
    if (data) f.push(tlv.bytes(Tag.DATA, data));
    if (eof) f.push(tlv.u8(Tag.EOF, 1));
    this.#child.stdin!.write(encodeFrame(FrameType.DATA, reqid, f));
  }

  /** Gives a request in flight up (protocol 7): its worker is signalled; the answer still comes and settles it. */
  #cancel(reqid: number): void {
    if (this.#dead || !this.#pending.has(reqid)) return;
    this.#child.stdin!.write(encodeFrame(FrameType.DATA, reqid, [tlv.u8(Tag.CANCEL, 1)]));
  }

  /** Streams `data` as DATA frames of reqid; stops as soon as the request is answered. */
  #sendInput(reqid: number, pending: Pending, data: Uint8Array): void {
    let off = 0;
    let inflight = 0;
    const pump = (): void => {
      while (inflight < WINDOW && this.#pending.get(reqid) === pending && !this.#dead) {
        const end = Math.min(off + CHUNK, data.length);
        const last = end === data.length;
        const f: Field[] = [];
        if (end > off) f.push(tlv.bytes(Tag.DATA, data.subarray(off, end)));
        if (last) f.push(tlv.u8(Tag.EOF, 1));
        this.#child.stdin!.write(encodeFrame(FrameType.DATA, reqid, f));
        if (end > off) inflight++;
        off = end;
        if (last) {
          pending.onAck = undefined;
          return;
        }
      }
    };
    pending.onAck = () => {
      inflight--;
      pump();
    };
    pump();
  }

  /**
   * Streams an input that arrives over time (an interactive exec's stdin) as DATA frames of reqid, with the same
   * window as {@link #sendInput}; EOF when the source ends or fails. Stops reading it once the request is answered.
   */
  #sendStream(reqid: number, pending: Pending, source: AsyncIterable<Uint8Array>): void {
    let inflight = 0;
    let wake: (() => void) | undefined;
    const live = (): boolean => this.#pending.get(reqid) === pending && !this.#dead;
    pending.onAck = () => {
      inflight--;
      wake?.();
    };
    const send = (f: Field[]): void => { this.#child.stdin!.write(encodeFrame(FrameType.DATA, reqid, f)); };
    // An answer while we wait for an ACK ends the wait (the loop then sees the request gone).
    const { resolve, reject } = pending;
    pending.resolve = (f) => { resolve(f); wake?.(); };
    pending.reject = (e) => { reject(e); wake?.(); };
    void (async () => {
      try {
        for await (const chunk of source) {
          for (let off = 0; off < chunk.length; off += CHUNK) {
            while (inflight >= WINDOW && live()) await new Promise<void>((resolve) => { wake = resolve; });
            if (!live()) return;
            send([tlv.bytes(Tag.DATA, chunk.subarray(off, Math.min(off + CHUNK, chunk.length)))]);
            inflight++;
          }
          if (!live()) return;
        }
      } catch (e) {
        log('exec input: %s', (e as Error).message);
      }
      pending.onAck = undefined;
      if (live()) send([tlv.u8(Tag.EOF, 1)]);
    })();
  }

  /** Creates the container's namespaces and root; the process waits for {@link startContainer}. Returns init's host pid. */
  async createContainer(spec: KeeperContainerSpec): Promise<{ pid: number }> {
    this.#exits.delete(spec.id);
    const f = await this.#request(FrameType.CREATE, containerFields(spec));
    return { pid: field.uint(f.fields, Tag.PID) ?? 0 };
  }

  /**
   * Execs the container's process. With `ifPrepared` (an isolated container's START sent right behind its CREATE and
   * OUTBOUND, protocol 11) only if the container joined a prepared network namespace whose helper is ready: otherwise
   * nothing is done and it resolves `false` (send it again, without, once the network helper is ready).
   * @throws SlipwayError ERR_RUNTIME with stage `exec <argv0>` when it cannot be executed.
   */
  async startContainer(id: string, opts: { ifPrepared?: boolean } = {}): Promise<boolean> {
    try {
      await this.#request(FrameType.START, [tlv.str(Tag.ID, id), ...(opts.ifPrepared ? [tlv.u8(Tag.IF_PREPARED, 1)] : [])]);
      return true;
    } catch (e) {
      if (opts.ifPrepared && KeeperError.isKind(e, 'not-prepared')) return false;
      throw e;
    }
  }

  /**
   * Resolves when the container's process has exited (also if it already has).
   * While such a wait is pending Node stays alive; pass `{ ref: false }` for a background
   * watcher that must not keep a script from exiting.
   */
  waitContainer(id: string, opts: { ref?: boolean } = {}): Promise<KeeperExit> {
    const done = this.#exits.get(id);
    if (done) return Promise.resolve(done);
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(id) ?? [];
      list.push({ resolve, reject, ref: opts.ref !== false });
      this.#waiters.set(id, list);
      this.#updateRef();
    });
  }

  /** Sends a signal to the container's process (SIGKILL ends the whole container at once). */
  async kill(id: string, signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    const n = typeof signal === 'number' ? signal : osConstants.signals[signal];
    if (n === undefined) throw new SlipwayError('ERR_INVALID_ARGUMENT', `unknown signal ${String(signal)}`, { hint: 'use a name like SIGTERM or a number' });
    await this.#request(FrameType.KILL, [tlv.str(Tag.ID, id), tlv.u32(Tag.SIGNAL, n)]);
  }

  /** Kills the container if needed and deletes its state dir. Idempotent. */
  async removeContainer(id: string): Promise<void> {
    if (this.#dead) return;
    // A GET of this container whose reader stopped reading waits for credits that never come: end it.
    for (const cancel of this.#getCancels.get(id) ?? []) cancel();
    await this.#request(FrameType.REMOVE, [tlv.str(Tag.ID, id)]);
    // The EXIT frame came before REMOVE's OK and resolved every waiter; nobody asks again for a removed id.
    this.#exits.delete(id);
  }

  /** Like removeContainer() but keeps the state dir (upper dir, logs) so the id can be created again. */
  async releaseContainer(id: string): Promise<void> {
    await this.#request(FrameType.REMOVE, [tlv.str(Tag.ID, id), tlv.u8(Tag.KEEP, 1)]);
    this.#exits.delete(id);
  }

  /** Runs a process in the container's namespaces; output is streamed to the callbacks. */
  async exec(
    id: string,
    spec: KeeperExecSpec,
    io: { onStdout?(b: Buffer): void; onStderr?(b: Buffer): void; stdin?: Buffer | AsyncIterable<Uint8Array>; signal?: AbortSignal } = {},
  ): Promise<KeeperExit> {
    io.signal?.throwIfAborted();
    const fields = [tlv.str(Tag.ID, id), ...processFields(spec)];
    const sent: RequestStream = { chunked: false };
    const p = this.#request(FrameType.EXEC, fields, (f) => {
      if (f.type !== FrameType.EXEC_OUTPUT) return;
      const data = field.first(f.fields, Tag.DATA)?.value ?? Buffer.alloc(0);
      if (field.uint(f.fields, Tag.STREAM) === 2) io.onStderr?.(Buffer.from(data));
      else io.onStdout?.(Buffer.from(data));
    }, io.stdin, sent);
    let frame: Frame;
    if (io.signal) {
      // Abort stops waiting and kills the process (with what it started), as Docker kills a health check past its
      // timeout: a probe that hangs must not run on, holding a worker, until the container is removed.
      const signal = io.signal;
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => {
          if (sent.reqid === undefined) sent.cancelled = true;
          else this.#cancel(sent.reqid);
          reject(new SlipwayError('ERR_ABORTED', `exec in ${id} aborted`, { cause: signal.reason }));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        frame = await Promise.race([p, aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort!);
        p.catch(() => {});
      }
    } else frame = await p;
    return decodeWaitStatus(field.uint(frame.fields, Tag.STATUS) ?? 0);
  }

  /**
   * Applies ownership and modes below `root` from a list file of NUL-separated records
   * `relpath\0uid\0gid\0mode(octal)\0`, inside the user namespace, never following symlinks.
   */
  async chownList(root: string, listFile: string): Promise<void> {
    if (this.mapping.kind === 'single') {
      // Only our own id exists in the namespace: a chown to any other fails with EINVAL deep in the keeper. Say why.
      const other = parseOwnershipList(await readFile(listFile)).find((r) => r.uid !== 0 || r.gid !== 0);
      if (other) throw singleMappingError(this.mapping.reason, other);
    }
    await this.#request(FrameType.CHOWN_LIST, [tlv.str(Tag.ROOTFS, root), tlv.str(Tag.LIST_FILE, listFile)]);
  }

  /** Removes a tree inside the user namespace (files owned by subordinate ids), never following symlinks. */
  async rmtree(path: string): Promise<void> {
    if (!posix.isAbsolute(path) || path === '/') throw new SlipwayError('ERR_INVALID_ARGUMENT', `refusing to remove ${path}`, { hint: 'pass an absolute path below the state or store directory' });
    // Already gone (e.g. a container's state dir after REMOVE): no round trip and no worker fork. A synchronous lstat
    // (answering undefined, not an error object, for a missing path) costs microseconds; an async one that fails
    // was a thread-pool round trip and an error on every removal. Any other outcome (it exists, or Node may not
    // look) is the keeper's job.
    let gone = false;
    try {
      gone = lstatSync(path, { throwIfNoEntry: false }) === undefined;
    } catch {
      // EACCES, ENOTDIR…: the keeper looks from inside its user namespace.
    }
    if (gone) return;
    await this.#request(FrameType.RMTREE, [tlv.str(Tag.PATH, path)]);
  }

  /**
   * Writes entries into a created or running container (paths resolve inside it, parents are created). A file's
   * zero blocks stay holes; a file comes whole or not at all.
   * @throws SlipwayError `ERR_COPY_NO_SPACE` when the container's file system (its upper dir, or the volume or bind
   *   mount holding the path) has no space or quota left (the partly written file is removed); the source's own
   *   error when a streamed file cannot be read to its announced size.
   */
  async putFiles(id: string, entries: AsyncIterable<KeeperFileEntry> | Iterable<KeeperFileEntry>): Promise<void> {
    for await (const e of entries) {
      const fields: Field[] = [tlv.str(Tag.ID, id), tlv.str(Tag.PATH, e.path), tlv.u8(Tag.TYPE, e.type === 'file' ? 1 : e.type === 'directory' ? 2 : 3),
        tlv.u32(Tag.MODE, e.mode), tlv.u32(Tag.UID, e.uid), tlv.u32(Tag.GID, e.gid)];
      if (e.mtime) fields.push(tlv.u64(Tag.MTIME, Math.floor(e.mtime.getTime() / 1000)));
      if (e.type === 'symlink') fields.push(tlv.str(Tag.LINK, e.linkTarget ?? ''));
      // Small files travel inside the PUT (one frame, one round trip); larger ones are streamed, a host file in
      // chunks as it is read (never whole in memory). The size goes along: a source that ends early or grows
      // fails the PUT rather than leaving a cut file.
      const content = e.type === 'file' ? e.content : undefined;
      let input: Uint8Array | AsyncIterable<Uint8Array> | undefined;
      let sourceError: unknown;
      if (e.type === 'file' && e.contentStream) {
        fields.push(tlv.u64(Tag.SIZE, e.size ?? 0));
        const source = e.contentStream;
        input = (async function* () {
          try {
            yield* source;
          } catch (err) {
            sourceError = err;
          }
        })();
      } else if (content && content.length <= CHUNK) fields.push(tlv.bytes(Tag.DATA, content));
      else if (content) {
        fields.push(tlv.u64(Tag.SIZE, content.length));
        input = content;
      }
      try {
        await this.#request(FrameType.PUT, fields, undefined, input);
      } catch (err) {
        if (sourceError) throw sourceError;
        if (KeeperError.isKind(err, 'files') && (err.errnoName === 'ENOSPC' || err.errnoName === 'EDQUOT')) throw this.#noSpace(e.path, err);
        throw err;
      }
      if (sourceError) throw sourceError;
    }
  }

  /** A PUT that found no space: what was free where, and how to make room. */
  #noSpace(path: string, err: KeeperError): SlipwayError {
    const free = /\((\d+ MiB free of \d+ MiB)\)/.exec(err.stage)?.[1];
    const what = err.errnoName === 'EDQUOT' ? 'the disk quota is used up' : 'no space left';
    return new SlipwayError('ERR_COPY_NO_SPACE', `copy into the container: ${path}: ${what} on the container's file system${free ? ` (${free})` : ''}; the partly written file was removed`, {
      cause: err,
      hint: `a container's files live in its upper dir below the state dir (${this.stateDir}; the \`stateDir\` setting, SLIPWAY_STATE_DIR), ` +
        'or in the image store\'s tmp/ when the automatic state dir is a tmpfs: ' +
        'free space there or point the setting at a file system with room, remove files in the container, or copy into a volume or bind mount with space (a path in one fills that one)',
    });
  }

  /**
   * Reads a file or a directory tree out of a container (the final symlink is not followed), in
   * pre-order: a directory comes before its entries. The request starts at the first `next()`;
   * entries are yielded as they arrive, and a failure is thrown from `next()` only (never as an
   * unhandled rejection, even when nobody iterates to the end).
   * @throws SlipwayError `ERR_COPY_SOURCE_MISSING` when `path` (or a directory on the way) does not
   *   exist in the container; `ERR_RUNTIME` with the keeper's stage otherwise.
   * @param opts.topOnly - Only the entry at `path` itself, never a directory's contents.
   */
  async *getFiles(id: string, path: string, opts: { topOnly?: boolean } = {}): AsyncGenerator<KeeperGetEntry> {
    // Entries and, after an entry sent with CHUNKED, its GET_DATA chunks, in the order they came.
    const events: (KeeperGetEntry | Buffer)[] = [];
    let head = 0;
    let done = false;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const parent = posix.dirname(path);
    const fields = [tlv.str(Tag.ID, id), tlv.str(Tag.PATH, path)];
    if (opts.topOnly) fields.push(tlv.u8(Tag.TOP_ONLY, 1));
    const stream: RequestStream = {};
    let granted = false;
    let sawEntry = false;
    let special = false;
    // Cancellable by removeContainer(): a reader that stopped reading (never to return) must not keep the worker,
    // this request and so the Node process alive once the container is gone.
    const cancel = (): void => {
      if (stream.reqid === undefined) stream.cancelled = true; // still waiting for a worker slot
      else this.#sendData(stream.reqid, undefined, true);
    };
    let cancels = this.#getCancels.get(id);
    if (!cancels) this.#getCancels.set(id, (cancels = new Set()));
    cancels.add(cancel);
    const forget = (): void => {
      cancels.delete(cancel);
      if (cancels.size === 0 && this.#getCancels.get(id) === cancels) this.#getCancels.delete(id);
    };
    this.#request(FrameType.GET, fields, (f) => {
      // Every GET_ENTRY/GET_DATA costs the keeper a credit (protocol 6): WINDOW up front, a few more once it answers,
      // then one per frame taken below, so what waits here is bounded however many files the container made.
      if (!granted) {
        granted = true;
        this.#sendData(f.reqid, EXTRA_CREDITS);
      }
      // Copies: a frame's buffer is a slice of the decoder's chunk list.
      if (f.type === FrameType.GET_DATA) {
        events.push(Buffer.from(field.first(f.fields, Tag.DATA)?.value ?? Buffer.alloc(0)));
        wake?.();
        return;
      }
      if (f.type !== FrameType.GET_ENTRY) return;
      const t = field.uint(f.fields, Tag.TYPE);
      const first = !sawEntry;
      sawEntry = true;
      if (t !== 1 && t !== 2 && t !== 3) {
        // A FIFO, socket or device: not copied. It cost the keeper a credit like any entry and is never taken
        // below, so its credit goes back now: a directory of 16 FIFOs used to stall the GET for good (the keeper
        // waiting for a credit, the reader for an entry). Asked for by name, it is an error, not an empty copy.
        if (first) special = true;
        this.#sendData(f.reqid, CREDIT);
        return;
      }
      const relPath = Buffer.from(field.first(f.fields, Tag.RELPATH)?.value ?? Buffer.alloc(0));
      const entry: KeeperGetEntry = {
        path: posix.join(parent, relPath.toString('utf8')),
        relPath,
        type: t === 1 ? 'file' : t === 2 ? 'directory' : 'symlink',
        mode: field.uint(f.fields, Tag.MODE) ?? 0, uid: field.uint(f.fields, Tag.UID) ?? 0, gid: field.uint(f.fields, Tag.GID) ?? 0,
        mtime: new Date((field.uint(f.fields, Tag.MTIME) ?? 0) * 1000),
      };
      if (t === 1) {
        entry.size = field.uint(f.fields, Tag.SIZE) ?? 0;
        if (!field.uint(f.fields, Tag.CHUNKED)) entry.content = Buffer.from(field.first(f.fields, Tag.DATA)?.value ?? Buffer.alloc(0));
      }
      if (t === 3) {
        entry.linkBytes = Buffer.from(field.first(f.fields, Tag.LINK)?.value ?? Buffer.alloc(0));
        entry.linkTarget = entry.linkBytes.toString('utf8');
      }
      events.push(entry);
      wake?.();
    }, undefined, stream).then(
      () => { done = true; forget(); wake?.(); },
      (e: unknown) => { failure = getError(e, path); done = true; forget(); wake?.(); },
    );
    const next = async (): Promise<KeeperGetEntry | Buffer | undefined> => {
      for (;;) {
        if (head < events.length) {
          const ev = events[head]!;
          events[head++] = undefined as unknown as Buffer; // let what was handed out be collected
          return ev;
        }
        if (done) {
          if (failure !== undefined) throw failure;
          if (special) {
            throw new SlipwayError('ERR_UNSUPPORTED', `cannot copy ${path} out of the container: it is not a regular file, directory or symlink (a FIFO, socket or device)`, {
              hint: 'copy its contents with exec([\'cat\', path]) if it is a FIFO or device that yields data; inside a copied directory such entries are left out',
            });
          }
          return undefined;
        }
        events.length = head = 0;
        await new Promise<void>((resolve) => { wake = resolve; });
        wake = undefined;
      }
    };
    // One chunk of a streamed file, and a credit for the keeper's next one.
    const takeChunk = async (): Promise<Buffer> => {
      const c = await next();
      if (!Buffer.isBuffer(c)) throw new SlipwayError('ERR_RUNTIME', `keeper: the content of a file in ${path} ended early`, { hint: 'this is a bug in slipway: please report it with DEBUG=slipway:*' });
      this.#sendData(stream.reqid!, CREDIT);
      return c;
    };
    let ended = false;
    try {
      for (;;) {
        const ev = await next();
        if (ev === undefined) {
          ended = true;
          return;
        }
        if (Buffer.isBuffer(ev)) throw new SlipwayError('ERR_RUNTIME', `keeper: file content without its entry in ${path}`, { hint: 'this is a bug in slipway: please report it with DEBUG=slipway:*' });
        this.#sendData(stream.reqid!, CREDIT);
        if (ev.type !== 'file' || ev.content) {
          yield ev;
          continue;
        }
        let left = ev.size ?? 0;
        ev.contentStream = (async function* () {
          while (left > 0) {
            const c = await takeChunk();
            left -= c.length;
            yield c;
          }
        })();
        yield ev;
        while (left > 0) left -= (await takeChunk()).length; // what the reader left unread
      }
    } finally {
      // Given up early (the reader stopped, or failed): the worker stops at its next chunk.
      if (!ended && !done) cancel();
    }
  }

  /**
   * Publishes a container port on the host; returns the host port (the bound one when `hostPort`
   * is 0). TCP connections and UDP datagrams are relayed to 127.0.0.1:`containerPort` inside the
   * container; UDP keeps one in-container socket per client address (expires after 60 s idle).
   * @throws SlipwayError ERR_INVALID_ARGUMENT for an unknown protocol; ERR_RUNTIME with stage
   * `publish: bind <proto> <ip>:<port>` when the host port is taken.
   */
  async publish(id: string, p: KeeperPublishSpec): Promise<number> {
    const proto = PROTOCOLS[p.protocol];
    if (proto === undefined) throw new SlipwayError('ERR_INVALID_ARGUMENT', `unknown port protocol ${String(p.protocol)}`, { hint: "use 'tcp' or 'udp'" });
    const f = await this.#request(FrameType.PUBLISH, [tlv.str(Tag.ID, id), tlv.u8(Tag.PROTO, proto),
      tlv.str(Tag.HOST_IP, p.hostIp ?? '127.0.0.1'), tlv.u32(Tag.PORT, p.hostPort ?? 0), tlv.u32(Tag.CONTAINER_PORT, p.containerPort)]);
    return field.uint(f.fields, Tag.PORT) ?? 0;
  }

  /** Stops publishing a host port (and drops its UDP flows). Unknown ports are ignored. */
  async unpublish(hostPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<void> {
    await this.#request(FrameType.UNPUBLISH, [tlv.u32(Tag.PORT, hostPort), tlv.u8(Tag.PROTO, PROTOCOLS[protocol] ?? 1)]);
  }

  /**
   * Creates a user network: a network namespace owned by the keeper with a bridge and no address.
   * Containers attached to it ({@link attachNetwork}) reach each other directly on their own
   * ports; containers on different networks cannot reach each other.
   * @param id - Unique among this keeper's live networks.
   * @param subnetIndex - The `n` of the network's 10.89.n.0/24 (0..255), unique among live networks;
   *   the keeper only checks uniqueness, addresses are chosen by the caller.
   * @throws SlipwayError ERR_INVALID_ARGUMENT for a bad index; ERR_NETWORK (errno EEXIST) when the
   *   id or index is in use, or with the failing stage (e.g. `network create: create bridge br0`).
   * @example await keeper.createNetwork('net1', 7); // then attach containers as 10.89.7.x/24
   */
  async createNetwork(id: string, subnetIndex: number): Promise<void> {
    if (!id) throw new SlipwayError('ERR_INVALID_ARGUMENT', 'empty network id', { hint: 'give the network a non-empty id' });
    if (!Number.isInteger(subnetIndex) || subnetIndex < 0 || subnetIndex > 255) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `subnet index ${String(subnetIndex)} is out of range`, { hint: 'use an integer 0..255 (the n of 10.89.n.0/24)' });
    }
    await this.#request(FrameType.NET_CREATE, [tlv.str(Tag.NET_ID, id), tlv.u32(Tag.SUBNET, subnetIndex)]);
  }

  /**
   * Removes a user network. Its namespace goes away with the last reference, taking the bridge and
   * the containers' interfaces on it (containers keep running, without that interface). Idempotent.
   */
  async removeNetwork(id: string): Promise<void> {
    if (this.#dead) return;
    await this.#request(FrameType.NET_REMOVE, [tlv.str(Tag.NET_ID, id)]);
  }

  /**
   * Attaches a created (or running) container to a user network: a veth pair, `eth1` (`eth2`… for
   * further networks) with `ip/prefix` inside the container, its peer on the network's bridge. Call
   * it between {@link createContainer} and {@link startContainer} so the process sees the interface
   * from its first instruction. Only the connected route is added, so a default route (e.g. via
   * slirp4netns on eth0) is untouched.
   * @param opts.unreachable - IPv4 CIDRs (at most 8) given an `unreachable` route in the container,
   *   e.g. `['10.89.0.0/16']`: connects to other networks' subnets fail at once (EHOSTUNREACH)
   *   instead of leaving through eth0's default route to the host's network. The network's own,
   *   more specific connected route still wins.
   * @returns The interface name inside the container.
   * @throws SlipwayError ERR_INVALID_ARGUMENT for a bad address or prefix; ERR_NETWORK with errno
   *   ENOENT (no such network), ESRCH (no such container), EINVAL (host network mode), EEXIST (the
   *   container already has this address). Two containers given one address are not detected.
   * @example await keeper.attachNetwork(spec.id, 'net1', '10.89.7.2', 24);
   */
  async attachNetwork(containerId: string, netId: string, ip: string, prefix: number, opts: { unreachable?: string[] } = {}): Promise<string> {
    if (!isIPv4(ip)) throw new SlipwayError('ERR_INVALID_ARGUMENT', `network address ${ip} is not an IPv4 address`, { hint: 'use a dotted IPv4 address inside the network subnet, e.g. 10.89.7.2' });
    if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30) throw new SlipwayError('ERR_INVALID_ARGUMENT', `prefix length ${String(prefix)} is out of range`, { hint: 'use 1..30, e.g. 24' });
    const fields = [tlv.str(Tag.ID, containerId), tlv.str(Tag.NET_ID, netId), tlv.str(Tag.IP, ip), tlv.u8(Tag.PREFIX, prefix)];
    fields.push(...unreachableFields(opts.unreachable ?? [], 'per attach'));
    const f = await this.#request(FrameType.NET_ATTACH, fields);
    return field.str(f.fields, Tag.IFNAME) ?? '';
  }

  /**
   * Host access for one port: inside the container, `169.254.1.2:port` (`GUEST_NET.hostAlias`, what
   * host.slipway.internal names) reaches the host's `127.0.0.1:port` (`[::1]:port` when that refuses),
   * and nothing else of the host's loopback. init listens there (on the container's lo only); the keeper accepts and connects to
   * the host port itself, per connection (a host port with no listener: the container sees a reset).
   * TCP only. Call it before {@link startContainer}: the container's own processes then cannot
   * listen on `port` on all addresses (the address 169.254.1.2 is taken on that port).
   * @throws SlipwayError ERR_INVALID_ARGUMENT for a port outside 1..65535; ERR_NETWORK with errno
   *   ESRCH (no such container), EINVAL (host network mode).
   * @example await keeper.forwardHostPort(spec.id, 5432);
   */
  async forwardHostPort(containerId: string, port: number): Promise<void> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `host port ${String(port)} is out of range`, { hint: 'host access names TCP ports from 1 to 65535' });
    }
    await this.#request(FrameType.HOST_FORWARD, [tlv.str(Tag.ID, containerId), tlv.u32(Tag.PORT, port)]);
  }

  /**
   * Runs an outbound network helper (slirp4netns) for a container from the keeper, inside its user namespace (so
   * the helper's own mount namespace copies the host's shared mounts as slaves: see native/outbound.h). `argv[0]` is
   * the helper's absolute path; it gets fd 3 = a ready pipe (resolves once it wrote a byte there) and fd 4 = an exit
   * pipe only the keeper holds. It is killed with the container, by {@link stopOutbound}, or when the keeper goes.
   * A `null` in `argv` is the container init's host pid, written in by the keeper: the request may be sent right after
   * {@link createContainer}, before its answer, and the keeper starts the helper as soon as the container's network
   * namespace has its tap, while init still sets up the root.
   * @returns the helper's pid.
   * @throws KeeperError `ERR_NETWORK` (kind network; `output` = its last output, `waitStatus` when it exited) when it
   *   ends before it is ready (or the container ends before its network is); `ERR_RUNTIME` (container-state) when the
   *   container is not running.
   * @example const pid = await keeper.startOutbound(id, ['/usr/bin/slirp4netns', '--configure', '-r', '3', '-e', '4', null, 'eth0']);
   */
  async startOutbound(containerId: string, argv: ReadonlyArray<string | null>): Promise<number> {
    const f = await this.#request(FrameType.OUTBOUND, [tlv.str(Tag.ID, containerId), ...argv.map((a) => (a === null ? tlv.str(Tag.ARG_PID, '') : tlv.str(Tag.ARG, a)))]);
    return field.uint(f.fields, Tag.PID) ?? 0;
  }

  /** SIGKILLs the container's outbound helpers; resolves once they are gone (at once when there is none). */
  async stopOutbound(containerId: string): Promise<void> {
    await this.#request(FrameType.OUTBOUND_STOP, [tlv.str(Tag.ID, containerId)]);
  }

  /** Ends the keeper: every container is killed and its state removed. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#forget();
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) return resolve();
      const t = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
      this.#child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      this.#child.stdin!.end();
    });
    return this.#closed;
  }
}

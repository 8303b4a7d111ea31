import { SlipwayError, invalidArgument, unsupported } from '../errors.js';
import { parseMemory, type TmpfsMount } from '../runtime/index.js';

/**
 * How a tmpfs is mounted (`Container.withTmpfs`). Fields apply first, then the words of `options`, the last word of
 * a kind winning (Docker's rule). Without any, a tmpfs is writable, `nosuid,nodev`, allows exec and has mode 1777.
 * @example
 * import { Container } from 'slipway';
 * new Container('busybox').withTmpfs('/cache', { size: '64m', uid: 1000, gid: 1000, mode: 0o700, noexec: true });
 * new Container('busybox').withTmpfs('/ro', { options: 'ro,noatime,nr_inodes=1k' });
 */
export interface TmpfsOptions {
  /** Its size limit: bytes, or with a unit (`'64m'`). @defaultValue half of the memory (the kernel's default) */
  size?: string | number;
  /** Mode of its root directory. @defaultValue 0o1777 */
  mode?: number;
  /** Owner of its root directory (a user id inside the container). @defaultValue 0 */
  uid?: number;
  /** Group of its root directory. @defaultValue 0 */
  gid?: number;
  /** Mounted read-only (`ro`). @defaultValue false */
  readonly?: boolean;
  /** Programs on it cannot be executed (`noexec`). @defaultValue false (Docker's `--tmpfs` and testcontainers' `withTmpFs` default to true) */
  noexec?: boolean;
  /**
   * Docker's tmpfs option words, comma-separated: the flags `ro|rw`, `exec|noexec`, `suid|nosuid`, `dev|nodev`,
   * `sync|async`, `dirsync`, `atime|noatime`, `diratime|nodiratime`, `relatime|norelatime`, `strictatime|nostrictatime`,
   * `defaults`, `private`, `rprivate`, and the data `size=`, `mode=`, `uid=`, `gid=`, `nr_inodes=`, `nr_blocks=`, `mpol=`.
   */
  options?: string;
}

/** Flag words of a kind: the word that sets the flag first, the one that clears it second. */
const FLAG_KINDS: readonly (readonly [string, string | undefined])[] = [
  ['noexec', 'exec'], ['nosuid', 'suid'], ['nodev', 'dev'], ['sync', 'async'], ['dirsync', undefined],
  ['noatime', 'atime'], ['nodiratime', 'diratime'], ['relatime', 'norelatime'], ['strictatime', 'nostrictatime'],
];
const DATA_KEYS = ['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol'] as const;
/** Accepted and without effect: `private` is what every mount of a container already is (its `/` is made rprivate). */
const NO_OPS = new Set(['defaults', 'private', 'rprivate', 'nomand']);
const NOT_FOR_TMPFS = new Set(['shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable', 'bind', 'rbind', 'remount', 'mand']);
const ACCEPTED = ['ro', 'rw', ...FLAG_KINDS.flatMap(([a, b]) => (b ? [a, b] : [a])), ...NO_OPS, ...DATA_KEYS.map((k) => `${k}=`)].join(', ');

const MAX_ID = 0xfffffffe;
const COUNT_RE = /^\d{1,12}[kmg]?$/i;
const MPOL_RE = /^(?:default|local|prefer|bind|interleave|weighted-interleave)(?:=(?:static|relative))?(?::[0-9-]{1,64})?$/;

/**
 * The tmpfs mount `Container.withTmpfs` adds: `opts` checked, `options` words applied over the fields.
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` naming the option (and, for an unknown word, the accepted ones);
 * `ERR_UNSUPPORTED` for Docker's propagation words other than `private`.
 */
export function tmpfsMount(target: string, opts: TmpfsOptions, label = `withTmpfs ${target}`): TmpfsMount {
  if (opts === null || typeof opts !== 'object') throw invalidArgument(`${label} options`, opts, 'an object such as { size: \'64m\', mode: 0o700 }');
  const m: TmpfsMount = { kind: 'tmpfs', target, size: opts.size === undefined ? undefined : parseMemory(opts.size, `${label} size`), mode: opts.mode };
  if (opts.mode !== undefined && (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777)) throw invalidArgument(`${label} mode`, opts.mode, 'an octal mode such as 0o1777');
  for (const k of ['uid', 'gid'] as const) {
    const v = opts[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0 || v > MAX_ID) throw invalidArgument(`${label} ${k}`, v, `an id from 0 to ${MAX_ID}`);
    m[k] = v;
  }
  for (const k of ['readonly', 'noexec'] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw invalidArgument(`${label} ${k}`, opts[k], 'true or false');
  }
  if (opts.readonly) m.readonly = true;
  const flags = new Map<string, string>();
  if (opts.noexec !== undefined) flags.set('noexec', opts.noexec ? 'noexec' : 'exec');
  const data = new Map<string, string>();
  if (opts.options !== undefined) {
    if (typeof opts.options !== 'string') throw invalidArgument(`${label} options`, opts.options, `comma-separated tmpfs options (${ACCEPTED})`);
    for (const word of opts.options.split(',').map((w) => w.trim()).filter(Boolean)) applyWord(m, flags, data, word, label);
  }
  if (flags.size) m.flags = [...flags.values()];
  if (data.size) m.data = [...data].map(([k, v]) => `${k}=${v}`);
  return m;
}

function applyWord(m: TmpfsMount, flags: Map<string, string>, data: Map<string, string>, word: string, label: string): void {
  if (word === 'ro' || word === 'rw') {
    m.readonly = word === 'ro' ? true : undefined;
    return;
  }
  const kind = FLAG_KINDS.find(([set, clear]) => word === set || word === clear);
  if (kind) {
    flags.set(kind[0], word);
    return;
  }
  if (NO_OPS.has(word)) return;
  if (NOT_FOR_TMPFS.has(word)) {
    throw unsupported(`tmpfs option "${word}" (${label})`, word === 'mand' ? 'the kernel dropped mandatory locks (5.15)'
      : 'a container\'s mounts are private: a tmpfs has no peers to share with or receive from',
    'leave it out, or use private/rprivate');
  }
  const eq = word.indexOf('=');
  const key = eq < 0 ? word : word.slice(0, eq);
  const value = eq < 0 ? '' : word.slice(eq + 1);
  if (eq < 0 || !(DATA_KEYS as readonly string[]).includes(key)) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid ${label}: unknown tmpfs option "${word.length > 64 ? `${word.slice(0, 64)}…` : word}"`,
      { hint: `Docker's tmpfs options are accepted: ${ACCEPTED}` });
  }
  switch (key) {
    case 'size': m.size = parseMemory(value, `${label} size`); return;
    case 'mode':
      if (!/^[0-7]{1,4}$/.test(value)) throw invalidArgument(`${label} mode`, value, 'an octal mode such as 1777 or 755');
      m.mode = parseInt(value, 8);
      return;
    case 'uid': case 'gid': {
      const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
      if (!(n <= MAX_ID)) throw invalidArgument(`${label} ${key}`, value, `an id from 0 to ${MAX_ID}`);
      m[key] = n;
      return;
    }
    case 'mpol':
      if (!MPOL_RE.test(value)) throw invalidArgument(`${label} mpol`, value, 'a NUMA policy as tmpfs(5) has it: default, local, prefer:N, bind:N-M, interleave[:N-M]');
      break;
    default:
      if (!COUNT_RE.test(value)) throw invalidArgument(`${label} ${key}`, value, 'a count, optionally with k, m or g (e.g. 10k)');
  }
  data.set(key, value);
}

/**
 * Errors the keeper answers: a kind (what failed, mirrored from `enum sw_err_kind` in
 * native/protocol.h), the errno, and a stage text for people. Code branches on `kind` and
 * `errnoName`, never on the text.
 */
import { constants as osConstants } from 'node:os';
import { SlipwayError, type SlipwayErrorCode } from '../../errors.js';
import { Tag, field, type Frame } from './protocol.js';

/** What failed, by the keeper's `T_KIND` number (stable). */
export const KEEPER_ERROR_KINDS = [
  'unspecified', 'bad-request', 'frame', 'no-container', 'container-state', 'id-in-use', 'userns', 'setup', 'rootfs',
  'ids', 'cwd', 'exec', 'files', 'publish-bind', 'publish-address', 'network', 'subnet-in-use', 'address-in-use',
  'worker', 'resources', 'host-access', 'not-found', 'seccomp', 'keyring', 'not-prepared',
] as const;
/** One of {@link KEEPER_ERROR_KINDS}. */
export type KeeperErrorKind = (typeof KEEPER_ERROR_KINDS)[number];

/** The errno name (`'EADDRINUSE'`) of a number, or `errno <n>`. */
export function errnoName(n: number): string {
  return Object.entries(osConstants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;
}

/** A keeper ERROR answer: `kind` and `errnoName` are for code, `stage` for people. */
export class KeeperError extends SlipwayError {
  readonly kind: KeeperErrorKind;
  readonly stage: string;
  readonly errno: number;
  readonly errnoName: string;
  /** A failed child's last output (an outbound helper's stderr), when the keeper sent it. */
  readonly output: string | undefined;
  /** A failed child's raw wait status, when it had exited. */
  readonly waitStatus: number | undefined;

  constructor(code: SlipwayErrorCode, kind: KeeperErrorKind, stage: string, errno: number, message: string, hint: string | undefined, extra: { output?: string; waitStatus?: number } = {}) {
    super(code, `${stage}: ${errnoName(errno)} (${message})`, { hint });
    this.kind = kind;
    this.stage = stage;
    this.errno = errno;
    this.errnoName = errnoName(errno);
    this.output = extra.output;
    this.waitStatus = extra.waitStatus;
  }

  /** True for a keeper error of that kind (and errno name, when given). */
  static isKind(value: unknown, kind: KeeperErrorKind, errno?: string): value is KeeperError {
    return SlipwayError.is(value) && (value as KeeperError).kind === kind && (errno === undefined || (value as KeeperError).errnoName === errno);
  }
}

function hintFor(kind: KeeperErrorKind, errno: string): string | undefined {
  switch (kind) {
    case 'rootfs': return 'overlayfs inside a user namespace needs Linux >= 5.11 (or install fuse-overlayfs); check that the layer and state dirs are on a local file system';
    case 'ids': return errno === 'EINVAL' ? 'the process runs as a user id that is not mapped in the user namespace: add a range for your user to /etc/subuid and /etc/subgid (e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`) and install uidmap' : undefined;
    case 'exec': return errno === 'ENOENT' ? 'the command was not found in the image: check the entrypoint/cmd and PATH' : 'the command could not be executed in the container';
    case 'seccomp': return 'the kernel refused the seccomp filter (is CONFIG_SECCOMP_FILTER enabled?); `withSecurityOpt("seccomp=unconfined")` runs the container without one';
    case 'keyring': return errno === 'EDQUOT' ? 'the key quota of the user the container runs as is full (every container and exec holds a session keyring while it runs): raise /proc/sys/kernel/keys/maxkeys and maxbytes (root_maxkeys for root), or run fewer containers at once' : undefined;
    case 'cwd': return 'the working directory does not exist or is not accessible for the container user';
    case 'address-in-use': return 'the container already has this address: give each network attachment its own address';
    case 'network':
      if (errno === 'EOPNOTSUPP' || errno === 'ENOTSUP') return 'the kernel lacks bridge or veth support: load the modules as root (`modprobe bridge veth`) or enable CONFIG_BRIDGE/CONFIG_VETH';
      if (errno === 'EPERM') return 'the keeper may not configure this network namespace; make sure the container was created by this keeper and is not in host network mode';
      return undefined;
    case 'frame': return 'a request above the keeper\'s 64 MiB frame limit: this is a slipway bug, please report it';
    default: return undefined;
  }
}

/**
 * Turns a keeper ERROR frame into a {@link KeeperError}. `network` marks the answer to a user-network
 * request (code `ERR_NETWORK` whatever failed).
 */
export function errorFromFrame(frame: Frame, opts: { network?: boolean } = {}): KeeperError {
  const stage = field.str(frame.fields, Tag.STAGE) ?? 'keeper';
  const errno = field.uint(frame.fields, Tag.ERRNO) ?? 0;
  const msg = field.str(frame.fields, Tag.MESSAGE) ?? '';
  const kind = KEEPER_ERROR_KINDS[field.uint(frame.fields, Tag.KIND) ?? 0] ?? 'unspecified';
  const network = opts.network || kind === 'network' || kind === 'subnet-in-use' || kind === 'address-in-use' || kind === 'host-access';
  const output = field.str(frame.fields, Tag.DATA);
  const waitStatus = field.uint(frame.fields, Tag.STATUS);
  return new KeeperError(network ? 'ERR_NETWORK' : 'ERR_RUNTIME', kind, stage, errno, msg, hintFor(kind, errnoName(errno)), {
    ...(output !== undefined ? { output } : {}), ...(waitStatus !== undefined ? { waitStatus } : {}),
  });
}

/**
 * Every error slipway throws on purpose is a {@link SlipwayError}: branch on `code`,
 * read `hint` for the fix, and `cause` for what went wrong underneath.
 */

/** Stable error codes. New codes may be added; existing ones keep their meaning. */
export type SlipwayErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_REFERENCE'
  | 'ERR_IMAGE_NOT_FOUND'
  | 'ERR_IMAGE_NOT_PRESENT'
  | 'ERR_MANIFEST_INVALID'
  | 'ERR_PLATFORM_NOT_FOUND'
  | 'ERR_DIGEST_MISMATCH'
  | 'ERR_REGISTRY'
  | 'ERR_REGISTRY_AUTH'
  | 'ERR_REGISTRY_UNREACHABLE'
  | 'ERR_REGISTRY_TIMEOUT'
  | 'ERR_PULL_TIMEOUT'
  | 'ERR_TOO_LARGE'
  | 'ERR_UNPACK_UNSAFE_PATH'
  | 'ERR_UNPACK'
  | 'ERR_COPY_SOURCE_MISSING'
  | 'ERR_COPY_UNSAFE_PATH'
  | 'ERR_COPY_HOST'
  | 'ERR_STORE'
  | 'ERR_STORE_FULL'
  | 'ERR_HELPER_MISSING'
  | 'ERR_HELPER_STALE'
  | 'ERR_HELPER_PROTOCOL'
  | 'ERR_RUNTIME_UNAVAILABLE'
  | 'ERR_RUNTIME'
  | 'ERR_CONTAINER_START'
  | 'ERR_CONTAINER_EXITED'
  | 'ERR_CONTAINER_NOT_RUNNING'
  | 'ERR_CGROUP_UNAVAILABLE'
  | 'ERR_NETWORK'
  | 'ERR_PORT_IN_USE'
  | 'ERR_PORT_NOT_EXPOSED'
  | 'ERR_WAIT_TIMEOUT'
  | 'ERR_ABORTED'
  /** A module's command inside its container (a query, a CLI call) exited non-zero. */
  | 'ERR_COMMAND_FAILED'
  /** A testcontainers method or option slipway does not provide; the hint names the alternative. */
  | 'ERR_UNSUPPORTED'
  /** A Dockerfile that does not parse (the message names the line and the instruction). */
  | 'ERR_DOCKERFILE_PARSE'
  /** A build that cannot go on: an unknown stage, a missing base, a variable required by `${VAR:?}`. */
  | 'ERR_BUILD'
  /** A build's context is missing, or a COPY/ADD source is absent or outside it (`../x`, a symlink out). */
  | 'ERR_BUILD_CONTEXT'
  /** A RUN step exited non-zero (the message has its exit code, the details its last output lines). */
  | 'ERR_BUILD_STEP_FAILED';

const BRAND = Symbol.for('slipway.error');

export interface SlipwayErrorOptions {
  /** What to do about it, in one sentence. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Extra evidence (for example a container's last log lines), appended to `message`. */
  details?: string;
}

/** The root of every error slipway throws on purpose. */
export class SlipwayError extends Error {
  /** Stable machine-readable code. */
  readonly code: SlipwayErrorCode;
  /** How the user can fix it, when they can. */
  readonly hint: string | undefined;
  /** The one-line message without hint or details. */
  readonly shortMessage: string;

  constructor(code: SlipwayErrorCode, message: string, options: SlipwayErrorOptions = {}) {
    let full = `${code}: ${message}`;
    if (options.hint) full += `; fix: ${options.hint}`;
    if (options.details) full += `\n${options.details}`;
    super(full, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlipwayError';
    this.code = code;
    this.hint = options.hint;
    this.shortMessage = message;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that also works across duplicate copies of the package. */
  static is(value: unknown, code?: SlipwayErrorCode): value is SlipwayError {
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (value as SlipwayError).code === code)
    );
  }
}

/** Shorthand for an invalid option: names the option, the value and what is expected. */
export function invalidArgument(option: string, value: unknown, expected: string): SlipwayError {
  return new SlipwayError('ERR_INVALID_ARGUMENT', `invalid ${option}: ${formatValue(value)}`, { hint: `expected ${expected}` });
}

/** Shorthand for a feature slipway does not provide: names the method and what to use instead. */
export function unsupported(method: string, why: string, alternative: string): SlipwayError {
  return new SlipwayError('ERR_UNSUPPORTED', `${method} is not supported: ${why}`, { hint: alternative });
}

function formatValue(value: unknown): string {
  try {
    const s = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return typeof value;
  }
}

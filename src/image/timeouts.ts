/**
 * Time limits for registry traffic. undici's defaults (10 s connect, then 300 s for headers and 300 s
 * between body chunks, per attempt) let a registry that accepts and never answers, or that trickles a
 * byte a second, hold a pull for many minutes; these limits name the phase that stalled instead.
 */
import { SlipwayError } from '../errors.js';

/** Per-phase limits for registry requests, in milliseconds. */
export interface RegistryTimeouts {
  /** TCP (and TLS) connect. @defaultValue 15000, or `$SLIPWAY_REGISTRY_CONNECT_TIMEOUT` */
  connect: number;
  /** From sending a request to the end of the response headers. @defaultValue 30000, or `$SLIPWAY_REGISTRY_HEADERS_TIMEOUT` */
  headers: number;
  /**
   * Longest time spent waiting for the body while less than {@link BODY_MIN_BYTES} arrived: catches a
   * silent body and one that trickles. @defaultValue 30000, or `$SLIPWAY_REGISTRY_BODY_TIMEOUT`
   */
  body: number;
}

/** A body phase must deliver at least this much per {@link RegistryTimeouts.body} of waiting. */
export const BODY_MIN_BYTES = 1024;

export type TimeoutPhase = keyof RegistryTimeouts;

const DEFAULTS: RegistryTimeouts = { connect: 15_000, headers: 30_000, body: 30_000 };

/** The environment variable that sets each limit. */
export const TIMEOUT_ENV: Readonly<Record<TimeoutPhase, string>> = Object.freeze({
  connect: 'SLIPWAY_REGISTRY_CONNECT_TIMEOUT',
  headers: 'SLIPWAY_REGISTRY_HEADERS_TIMEOUT',
  body: 'SLIPWAY_REGISTRY_BODY_TIMEOUT',
});

/** Reads a positive number of milliseconds from an option or an environment variable. */
export function positiveMs(value: unknown, name: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid ${name}: ${JSON.stringify(value)}`, { hint: 'expected a positive number of milliseconds, e.g. 60000' });
  }
  return n;
}

/** Options first, then the environment, then the defaults. */
export function resolveTimeouts(opts: Partial<RegistryTimeouts> | undefined, env: NodeJS.ProcessEnv): RegistryTimeouts {
  const out = { ...DEFAULTS };
  for (const phase of Object.keys(DEFAULTS) as TimeoutPhase[]) {
    const v = opts?.[phase];
    if (v !== undefined) out[phase] = positiveMs(v, `registry ${phase} timeout`);
    else if (env[TIMEOUT_ENV[phase]]) out[phase] = positiveMs(env[TIMEOUT_ENV[phase]], TIMEOUT_ENV[phase]);
  }
  return out;
}

/** Thrown by {@link guardBody} when a body arrives slower than {@link BODY_MIN_BYTES} per body timeout. */
export class BodyStallError extends Error {
  readonly code = 'SLIPWAY_BODY_STALL';
}

const UNDICI_CODES: Record<string, TimeoutPhase> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'headers',
  UND_ERR_BODY_TIMEOUT: 'body',
  SLIPWAY_BODY_STALL: 'body',
};

/** The phase of a timeout error (undici's or {@link BodyStallError}), looking through causes; undefined for other errors. */
export function timeoutPhase(e: unknown): TimeoutPhase | undefined {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const phase = UNDICI_CODES[String((cur as { code?: unknown }).code)];
    if (phase) return phase;
  }
  return undefined;
}

const PHASE_TEXT: Record<TimeoutPhase, string> = {
  connect: 'could not connect',
  headers: 'sent no response headers',
  body: 'stalled while sending the body',
};

/** `ERR_REGISTRY_TIMEOUT` naming the registry host, the phase, the limit and how to raise it. */
export function registryTimeoutError(phase: TimeoutPhase, host: string, what: string, limits: RegistryTimeouts, cause: unknown): SlipwayError {
  const limit = limits[phase];
  const rate = phase === 'body' ? ` (less than ${BODY_MIN_BYTES} bytes in ${limit} ms)` : ` within ${limit} ms`;
  return new SlipwayError('ERR_REGISTRY_TIMEOUT', `${what}: registry ${host} ${PHASE_TEXT[phase]}${rate}`, {
    hint: `check that ${host} is a working registry and the network to it; on a slow link raise the limit with ${TIMEOUT_ENV[phase]}=<ms> (or the registry.timeouts.${phase} option)`,
    cause,
  });
}

/**
 * Passes a response body through, failing with {@link BodyStallError} once more than `limitMs` has been
 * spent waiting for data while less than {@link BODY_MIN_BYTES} arrived. Only time spent waiting on the
 * network counts: a consumer that applies backpressure (a slow disk) does not trip it. A body that goes
 * fully silent is caught by undici's `bodyTimeout`, set to the same limit.
 */
export async function* guardBody(body: AsyncIterable<unknown>, limitMs: number, now: () => number = performance.now.bind(performance)): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  let waited = 0;
  let got = 0;
  try {
    for (;;) {
      const t0 = now();
      const r = await it.next();
      waited += now() - t0;
      if (r.done) return;
      const c = r.value as Buffer;
      got += c.length;
      if (got >= BODY_MIN_BYTES) {
        waited = 0;
        got = 0;
      } else if (waited > limitMs) {
        throw new BodyStallError(`the body arrived at less than ${BODY_MIN_BYTES} bytes per ${limitMs} ms`);
      }
      yield c;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * Runs a pull (`run`, given the signal to honour) within its time limit (`Infinity`: none). At the limit the signal
 * aborts and the failure becomes `ERR_PULL_TIMEOUT` naming the image and the limit; any other failure (or one the
 * caller's own signal caused) goes through `otherwise`. `source` names what must be reachable, for the hint.
 */
export async function withinPullLimit<T>(
  ref: string, limit: number, outer: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>,
  opts: { source: string; otherwise?: (e: unknown) => unknown },
): Promise<T> {
  const deadline = new AbortController();
  // A plain Error as the reason: a DOMException in a cause chain trips some test runners' error printers.
  const timer = limit === Infinity ? undefined : setTimeout(() => deadline.abort(new Error(`the pull time limit of ${limit} ms was reached`)), limit);
  try {
    return await run(outer ? AbortSignal.any([outer, deadline.signal]) : deadline.signal);
  } catch (e) {
    if (!deadline.signal.aborted || outer?.aborted) throw opts.otherwise ? opts.otherwise(e) : e;
    const during = SlipwayError.is(e) ? ` (${e.shortMessage})` : '';
    throw new SlipwayError('ERR_PULL_TIMEOUT', `pulling ${ref} did not finish within ${limit} ms${during}`, {
      hint: `check that ${opts.source} and not stalling; on a slow link raise the limit with withPullTimeout(ms), \`slipway pull --timeout <seconds>\` or the pullTimeout setting (SLIPWAY_PULL_TIMEOUT=<ms>)`,
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
}

import { SlipwayError } from '../errors.js';
import type { ExecResult } from './runtime-container.js';

/**
 * How much of an exec's output `exec()` holds for its result (stdout and stderr together). A container printing
 * without end (`cat /dev/zero`) would otherwise grow the test process until it died, taking every other container
 * with it; 64 MiB is far above any command output a test reads as a string.
 */
export const EXEC_OUTPUT_LIMIT = 64 << 20;

/**
 * Collects one exec's output for its {@link ExecResult}, up to `limit` bytes. Past it, the exec is stopped through
 * {@link ExecOutput.signal} and `exec()` throws {@link ExecOutput.error}; the callbacks saw everything until then.
 */
export class ExecOutput {
  readonly #out: Buffer[] = [];
  readonly #err: Buffer[] = [];
  readonly #both: Buffer[] = [];
  readonly #stop = new AbortController();
  #size = 0;

  constructor(readonly container: string, readonly argv: readonly string[], readonly limit = EXEC_OUTPUT_LIMIT) {}

  /** True once the output went past the limit. */
  get exceeded(): boolean { return this.#stop.signal.aborted; }

  /** Fires when the output goes past the limit, or when `user` fires. */
  signal(user?: AbortSignal): AbortSignal {
    return user ? AbortSignal.any([user, this.#stop.signal]) : this.#stop.signal;
  }

  push(stream: 'stdout' | 'stderr', b: Buffer): void {
    if (this.exceeded) return;
    this.#size += b.length;
    if (this.#size > this.limit) {
      this.#stop.abort();
      return;
    }
    (stream === 'stdout' ? this.#out : this.#err).push(b);
    this.#both.push(b);
  }

  error(cause?: unknown): SlipwayError {
    return new SlipwayError('ERR_EXEC_OUTPUT_TOO_LARGE', `exec ${JSON.stringify(this.argv.join(' ').slice(0, 200))} in ${this.container} printed more than ${this.limit} bytes; it was stopped`, {
      hint: 'redirect a large output to a file in the container and copy it out with copyFrom(), or cut it in the command (`… | head -c 1M`)',
      cause,
    });
  }

  result(exit: { exitCode: number | null; signal: string | null }): ExecResult {
    const text = (b: Buffer[]) => Buffer.concat(b).toString('utf8');
    return { exitCode: exit.exitCode, signal: exit.signal, stdout: text(this.#out), stderr: text(this.#err), output: text(this.#both) };
  }
}

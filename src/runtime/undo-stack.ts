import { logger } from '../internal/debug.js';
import { phaseTimer } from '../internal/phases.js';

const log = logger('undo');
/** One line per undo step with its time (DEBUG=slipway:start), beside the start's phases. */
const phaseLog = logger('start');

/**
 * How long an undo step lives: `container` steps (the name, the state dir) are undone only when the container is
 * removed; `boot` steps (the created namespaces, cgroup, network helper, networks, ports) also on restart.
 */
export type UndoScope = 'container' | 'boot';

/** What an undo step is asked to do: the container goes away, or it is released to be booted again. */
export type UndoReason = 'remove' | 'restart';

interface Step {
  readonly what: string;
  readonly scope: UndoScope;
  readonly undo: (reason: UndoReason) => Promise<unknown> | unknown;
}

/**
 * One container's boot as a transaction (crun's cleanup, testcontainers' straight-line start): each step that made
 * something registers how to take it back, and a failure, `remove()` or `restart()` unwinds the stack in reverse.
 * An undo that fails is logged and the unwinding goes on, so a teardown error never masks the error that caused it.
 */
export class UndoStack {
  readonly #steps: Step[] = [];

  /** @param label - Names the owner (a container's name) in the debug log. */
  constructor(readonly label = 'undo') {}

  /** Registers the undo of a step that just succeeded. */
  push(what: string, scope: UndoScope, undo: (reason: UndoReason) => Promise<unknown> | unknown): void {
    this.#steps.push({ what, scope, undo });
  }

  /** Number of steps not yet undone. */
  get size(): number { return this.#steps.length; }

  /**
   * Undoes steps newest first: with `'restart'` only the `boot` ones, with `'remove'` all. Each undo runs once even
   * when unwinds overlap (a step is taken off the stack before it runs).
   * @returns the errors of failed undo steps (already logged), for tests and debugging.
   */
  async unwind(reason: UndoReason): Promise<Error[]> {
    const errors: Error[] = [];
    const mark = phaseTimer(phaseLog, this.label);
    for (;;) {
      let i = this.#steps.length - 1;
      while (i >= 0 && reason === 'restart' && this.#steps[i]!.scope !== 'boot') i--;
      if (i < 0) break;
      const step = this.#steps.splice(i, 1)[0]!;
      try {
        await step.undo(reason);
      } catch (e) {
        log('undo %s (%s): %O', step.what, reason, e);
        errors.push(e instanceof Error ? e : new Error(String(e)));
      }
      mark(`undo ${step.what}`);
    }
    return errors;
  }
}

import type createDebug from 'debug';

/** Marks one phase as done: logs the time since the previous mark. */
export type PhaseMark = (phase: string) => void;

const NOTHING: PhaseMark = () => {};

/**
 * Times the phases of one piece of work (a start, a removal): each `mark(phase)` logs one line with the milliseconds
 * since the previous mark (or since this call). When `log` is off it is a no-op that reads no clock.
 */
export function phaseTimer(log: createDebug.Debugger, what: string): PhaseMark {
  if (!log.enabled) return NOTHING;
  let last = performance.now();
  return (phase) => {
    const now = performance.now();
    log('%s %s %s ms', what, phase, (now - last).toFixed(2));
    last = now;
  };
}

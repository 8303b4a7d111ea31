/**
 * What the engine's builders report, in slipway's terms, and what a decoder of their progress gives the build
 * (`engine-build.ts`): the classic builder's `Step n/m` lines (`build-progress-classic.ts`) and BuildKit's
 * `moby.buildkit.trace` messages (`build-progress-buildkit.ts`) each have a decoder of their own.
 */

/**
 * Where a step of the engine's build sits: the classic builder counts every instruction of the Dockerfile, global
 * ARGs too (`n`, as its `Step n/m :` lines do); BuildKit names the stage (its `AS` name, or `stage-<index>`; absent
 * for a single stage in some versions) and the step within it, FROM being 1 (`n` is then 0).
 */
export interface EngineStepRef {
  n: number;
  stage?: string;
  /** The step within its stage (BuildKit only). */
  step?: number;
}

/**
 * What the engine's builder reports, step by step: `start`, then `cached` when it was reused, `output` lines, `end`.
 * The classic builder runs one step at a time; BuildKit's steps of different stages interleave.
 */
export type EngineBuildEvent = EngineStepRef & (
  | { type: 'start'; instruction: string }
  | { type: 'cached' }
  | { type: 'output'; line: string; stream?: 'stdout' | 'stderr' }
  | { type: 'end' });

/** One line of the engine's build stream (JSON). */
export interface BuildStreamLine {
  id?: string;
  stream?: string;
  aux?: { ID?: string } | string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

/** A step and its last output lines (at most 20). */
export interface StepTail {
  at: EngineStepRef;
  tail: readonly string[];
}

/** Decodes one builder's progress from the lines of the build stream into {@link EngineBuildEvent}s. */
export interface BuildProgressDecoder {
  /** A line of the stream that is not an error (errors end the build: the caller asks {@link failed}). */
  take(line: BuildStreamLine): void;
  /** The step the build ended in, with its last output lines: where an error line came from. */
  failed(): StepTail | undefined;
  /** The stream ended: steps still open end. */
  finish(): void;
  /** The image id the builder printed (the classic builder's `Successfully built <id>`), for engines without aux ids. */
  readonly printedId: string | undefined;
}

/** At most this many output lines of a step are kept for its error. */
export const TAIL_LINES = 20;

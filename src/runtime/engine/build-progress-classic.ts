/**
 * The classic builder's progress (`POST /build` without BuildKit: Docker's, Podman's buildah): `stream` text with a
 * `Step n/m : <instruction>` line per instruction, ` ---> Using cache` for a reused one, the step's output (stderr
 * wrapped in ESC[91m … ESC[0m), and the builder's own lines between them.
 */
import { TAIL_LINES, type BuildProgressDecoder, type BuildStreamLine, type EngineBuildEvent, type StepTail } from './build-progress.js';

/** The builder's own lines between a step's output: `---> Running in`, `---> <id>`, removals, the final summary. */
const CHATTER = /^( ---> |Removing intermediate container |Successfully (built|tagged) |\[Warning\] One or more build-args)/;

export class ClassicSteps implements BuildProgressDecoder {
  readonly #tail: string[] = [];
  #step = 0;
  #printedId: string | undefined;

  constructor(readonly event: (e: EngineBuildEvent) => void) {}

  get printedId(): string | undefined {
    return this.#printedId;
  }

  take(line: BuildStreamLine): void {
    for (const l of (line.stream ?? '').replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
      if (!l.trim()) continue;
      const start = /^Step (\d+)\/\d+ : (.*)$/.exec(l);
      if (start) {
        if (this.#step) this.event({ type: 'end', n: this.#step });
        this.#step = Number(start[1]);
        this.#tail.length = 0;
        this.event({ type: 'start', n: this.#step, instruction: start[2]! });
        continue;
      }
      if (/^ ---> Using cache$/.test(l)) this.event({ type: 'cached', n: this.#step });
      this.#printedId = /^Successfully built ([0-9a-f]{12,64})$/.exec(l.trim())?.[1] ?? this.#printedId;
      if (CHATTER.test(l)) continue;
      this.#tail.push(l);
      if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      this.event({ type: 'output', n: this.#step, line: l });
    }
  }

  /** The classic builder runs one step at a time: an error comes from the last one that started. */
  failed(): StepTail {
    return { at: { n: this.#step }, tail: this.#tail };
  }

  finish(): void {
    if (this.#step) this.event({ type: 'end', n: this.#step });
  }
}

/**
 * BuildKit's progress (`POST /build?version=2`): `{"id":"moby.buildkit.trace","aux":"<base64>"}` lines, each a
 * StatusResponse (engine/buildkit-trace.ts decodes the protobuf). A vertex the Dockerfile frontend named after a step
 * (`[stage 2/4] RUN …`) starts, is cached, prints (lines per vertex and stream), completes or fails; its own vertexes
 * (`[internal] …`, exporting) are not steps.
 */
import { decodeTrace, dockerfileStep } from '../../engine/buildkit-trace.js';
import { logger } from '../../internal/debug.js';
import { TAIL_LINES, type BuildProgressDecoder, type BuildStreamLine, type EngineBuildEvent, type EngineStepRef, type StepTail } from './build-progress.js';

const log = logger('engine:build');

interface VertexState {
  at: EngineStepRef;
  started: boolean;
  cached: boolean;
  ended: boolean;
  /** The unfinished last line per stream. */
  partial: Map<number, string>;
  tail: string[];
}

export class TraceSteps implements BuildProgressDecoder {
  readonly #vertexes = new Map<string, VertexState>();
  #failed: (StepTail & { canceled: boolean }) | undefined;
  /** BuildKit names the image only in the aux id line. */
  readonly printedId = undefined;

  constructor(readonly event: (e: EngineBuildEvent) => void) {}

  take(line: BuildStreamLine): void {
    if (line.id !== 'moby.buildkit.trace' || typeof line.aux !== 'string') return;
    const status = decodeTrace(line.aux);
    for (const v of status.vertexes) {
      let s = this.#vertexes.get(v.digest);
      if (!s) {
        const at = dockerfileStep(v.name);
        if (!at) continue;
        s = { at: { n: 0, stage: at.stage, step: at.step }, started: false, cached: false, ended: false, partial: new Map(), tail: [] };
        this.#vertexes.set(v.digest, s);
      }
      if ((v.started || v.cached) && !s.started) {
        s.started = true;
        log('step %s', v.name);
        this.event({ ...s.at, type: 'start', instruction: v.name.slice(v.name.indexOf('] ') + 2) });
      }
      if (v.cached && !s.cached) {
        s.cached = true;
        this.event({ ...s.at, type: 'cached' });
      }
      // Steps of other stages that BuildKit stopped because one failed end with "context canceled": not the cause.
      if (v.error && (!this.#failed || this.#failed.canceled)) this.#failed = { at: s.at, tail: s.tail, canceled: /context canceled/.test(v.error) };
      if (v.completed && !s.ended) this.#end(s);
    }
    for (const l of status.logs) {
      const s = this.#vertexes.get(l.vertex);
      if (!s) continue;
      const lines = ((s.partial.get(l.stream) ?? '') + l.data.toString()).split('\n');
      s.partial.set(l.stream, lines.pop()!);
      for (const text of lines) this.#line(s, text, l.stream);
    }
  }

  /** The step whose failure ended the build, with its last output lines; undefined when no step failed. */
  failed(): StepTail | undefined {
    for (const s of this.#vertexes.values()) if (!s.ended) this.#flush(s);
    return this.#failed;
  }

  finish(): void {
    for (const s of this.#vertexes.values()) if (s.started && !s.ended) this.#end(s);
  }

  #end(s: VertexState): void {
    this.#flush(s);
    s.ended = true;
    this.event({ ...s.at, type: 'end' });
  }

  #flush(s: VertexState): void {
    for (const [stream, rest] of s.partial) if (rest) this.#line(s, rest, stream);
    s.partial.clear();
  }

  #line(s: VertexState, line: string, stream: number): void {
    s.tail.push(line);
    if (s.tail.length > TAIL_LINES) s.tail.shift();
    this.event({ ...s.at, type: 'output', line, stream: stream === 2 ? 'stderr' : 'stdout' });
  }
}

/**
 * BuildKit's build progress as the engine relays it: `{"id":"moby.buildkit.trace","aux":"<base64>"}` lines of
 * `POST /build?version=2`, each a `moby.buildkit.v1.StatusResponse` (buildkit api/services/control/control.proto):
 * vertexes (a step: its name, cached, started, completed, error), statuses (transfers; not read) and logs (a step's
 * output, per stream).
 */
import { decodeFields, type ProtoField } from './protobuf.js';

/** One vertex update: a later one for the same digest carries the fields known by then. */
export interface TraceVertex {
  digest: string;
  /** `[stage-0 2/4] RUN make`, `[internal] load metadata for …`. */
  name: string;
  cached: boolean;
  started: boolean;
  completed: boolean;
  error?: string;
}

/** Output a vertex printed: stream 1 is stdout, 2 stderr. */
export interface TraceLog {
  vertex: string;
  stream: number;
  data: Buffer;
}

/** One decoded StatusResponse. */
export interface TraceStatus {
  vertexes: TraceVertex[];
  logs: TraceLog[];
}

const text = (f: ProtoField | undefined): string => f?.bytes?.toString() ?? '';

/** Decodes one trace message (the `aux` string of a `moby.buildkit.trace` line). @throws SlipwayError `ERR_RUNTIME` */
export function decodeTrace(aux: string): TraceStatus {
  const out: TraceStatus = { vertexes: [], logs: [] };
  for (const f of decodeFields(Buffer.from(aux, 'base64'))) {
    if (!f.bytes) continue;
    if (f.no === 1) {
      const v = decodeFields(f.bytes);
      const one = (no: number) => v.find((x) => x.no === no);
      out.vertexes.push({
        digest: text(one(1)), name: text(one(3)), cached: one(4)?.varint === 1n,
        started: one(5) !== undefined, completed: one(6) !== undefined, error: text(one(7)) || undefined,
      });
    } else if (f.no === 3) {
      const l = decodeFields(f.bytes);
      const one = (no: number) => l.find((x) => x.no === no);
      out.logs.push({ vertex: text(one(1)), stream: Number(one(3)?.varint ?? 1n), data: one(4)?.bytes ?? Buffer.alloc(0) });
    }
  }
  return out;
}

/**
 * Where a vertex sits in the Dockerfile, from the name BuildKit's Dockerfile frontend gives it: `[stage-0 2/4] RUN …`
 * (or `[build 2/4]` for a stage named `build`, `[2/4]` in some versions for a single stage). Undefined for the
 * frontend's own vertexes (`[internal] …`).
 */
export function dockerfileStep(name: string): { stage?: string; step: number; total: number } | undefined {
  const m = /^\[(?:(\S+) )?(\d+)\/(\d+)\] /.exec(name);
  return m ? { stage: m[1], step: Number(m[2]), total: Number(m[3]) } : undefined;
}

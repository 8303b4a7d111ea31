import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTrace, dockerfileStep } from '../../../src/engine/buildkit-trace.js';
import { bytesField, decodeFields, varintField } from '../../../src/engine/protobuf.js';
import { buildOnEngineClient, failedEngineStep, type EngineBuildEvent } from '../../../src/runtime/engine/engine-build.js';

// Recorded from Docker 20.10.24's `POST /build?version=2` (BuildKit) for:
//   FROM …/busybox / COPY --chmod=0755 a.sh /a.sh / RUN --mount=type=cache,target=/c … / RUN echo out; echo err >&2; exit 3
const recorded = readFileSync(new URL('./fixtures/buildkit-failed-run.jsonl', import.meta.url), 'utf8');

// The session a BuildKit build opens goes to a socket that takes whatever it is sent and answers nothing.
const sink = createServer((c) => { c.on('error', () => {}); c.resume(); });
const sinkPath = join(mkdtempSync(join(tmpdir(), 'slipway-trace-')), 'session.sock');
beforeAll(() => new Promise<void>((r) => { sink.listen(sinkPath, r); }));
afterAll(() => { sink.close(); rmSync(join(sinkPath, '..'), { recursive: true, force: true }); });

/** A fake engine whose build stream is `text`, cut into uneven chunks (a JSON line may span two). */
function engine(text: string): never {
  return {
    hijack: async () => ({ socket: connect(sinkPath), head: Buffer.alloc(0) }),
    stream: async () => ({ body: (async function* () { for (let i = 0; i < text.length; i += 700) yield Buffer.from(text.slice(i, i + 700)); })() }),
    call: async () => { throw new Error('not called'); },
  } as never;
}

describe('protobuf by hand', () => {
  it('reads back what it writes, skipping fields of other wire types', () => {
    const msg = Buffer.concat([bytesField(1, 'tok'), varintField(2, 300), Buffer.from([0x1d, 1, 2, 3, 4]), bytesField(4, Buffer.alloc(200, 7))]);
    const f = decodeFields(msg);
    expect(f.map((x) => x.no)).toEqual([1, 2, 4]);
    expect(f[0]!.bytes!.toString()).toBe('tok');
    expect(f[1]!.varint).toBe(300n);
    expect(f[2]!.bytes!.length).toBe(200);
  });

  it('a field longer than its message is ERR_RUNTIME, not a read past the buffer', () => {
    expect(() => decodeFields(Buffer.from([0x0a, 0x10, 1, 2]))).toThrow(expect.objectContaining({ code: 'ERR_RUNTIME' }));
  });
});

describe("BuildKit's trace", () => {
  it('decodes vertexes, their errors and their logs', () => {
    const traces = recorded.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: string; aux?: string }).filter((l) => l.id === 'moby.buildkit.trace').map((l) => decodeTrace(l.aux!));
    const names = new Set(traces.flatMap((t) => t.vertexes.map((v) => v.name)));
    expect(names).toContain('[stage-0 2/4] COPY --chmod=0755 a.sh /a.sh');
    const failed = traces.flatMap((t) => t.vertexes).find((v) => v.error);
    expect(failed).toMatchObject({ name: '[stage-0 4/4] RUN echo out; echo err >&2; exit 3', started: true, completed: true });
    expect(failed!.error).toMatch(/exit code: 3$/);
    const logs = traces.flatMap((t) => t.logs).map((l) => `${l.stream}:${l.data.toString()}`);
    expect(logs).toEqual(expect.arrayContaining(['1:out\n', '2:err\n']));
  });

  it("names a step from the Dockerfile frontend's vertex name", () => {
    expect(dockerfileStep('[stage-0 2/4] RUN make')).toEqual({ stage: 'stage-0', step: 2, total: 4 });
    expect(dockerfileStep('[build 1/3] FROM x')).toEqual({ stage: 'build', step: 1, total: 3 });
    expect(dockerfileStep('[2/3] RUN x')).toEqual({ stage: undefined, step: 2, total: 3 });
    expect(dockerfileStep('[internal] load metadata for x')).toBeUndefined();
  });

  it('a failed RUN is ERR_BUILD_STEP_FAILED naming its step, with its stdout and stderr lines; the other steps report as they ran', async () => {
    const events: EngineBuildEvent[] = [];
    const err = await buildOnEngineClient(engine(recorded), { context: undefined as never, dockerfile: 'Dockerfile', buildKit: true, onEvent: (e) => events.push(e) }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BUILD_STEP_FAILED' });
    expect(failedEngineStep(err)).toEqual({ n: 0, stage: 'stage-0', step: 4, exitCode: 3 });
    expect((err as Error).message).toMatch(/last output lines:\n(out\nerr|err\nout)/);
    const of = (step: number) => events.filter((e) => e.step === step).map((e) => (e.type === 'output' ? `${e.stream}:${e.line}` : e.type));
    expect(of(4)).toEqual(['start', 'stdout:out', 'stderr:err', 'end']);
    expect(of(3)).toEqual(['start', 'stdout:hi', 'end']);
  });
});

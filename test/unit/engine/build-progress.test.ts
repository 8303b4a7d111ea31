// The engine build's progress decoders (one module per builder) and the choice of builder: BuildKit where the engine
// serves it, the classic builder where it refuses BuildKit.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EngineHttpError } from '../../../src/engine/client.js';
import { SlipwayError } from '../../../src/errors.js';
import { ClassicSteps } from '../../../src/runtime/engine/build-progress-classic.js';
import type { EngineBuildEvent } from '../../../src/runtime/engine/build-progress.js';
import { buildKitRefused, buildKitServed, buildWithEngineBuilder, type EngineBuildRequest } from '../../../src/runtime/engine/engine-build.js';

// As Docker 20.10.24's classic builder streams `FROM busybox / ENV A=1 / RUN echo out; echo err >&2` (cached FROM),
// a stderr line in ESC[91m … ESC[0m.
const CLASSIC = [
  { stream: 'Step 1/3 : FROM busybox' }, { stream: '\n' }, { stream: ' ---\u003e 6fd955f66c23\n' },
  { stream: 'Step 2/3 : ENV A=1' }, { stream: '\n' }, { stream: ' ---\u003e Using cache\n' }, { stream: ' ---\u003e 1c0d8b2b5f2e\n' },
  { stream: 'Step 3/3 : RUN echo out; echo err \u003e\u00262' }, { stream: '\n' }, { stream: ' ---\u003e Running in 0e9f2f6a4b7c\n' },
  { stream: 'out\n' }, { stream: '\u001b[91merr\n\u001b[0m' }, { stream: 'Removing intermediate container 0e9f2f6a4b7c\n' },
  { stream: ' ---\u003e 8d1f0c2a9e11\n' }, { aux: { ID: 'sha256:8d1f0c2a9e11' } }, { stream: 'Successfully built 8d1f0c2a9e11\n' },
];

describe("the classic builder's progress", () => {
  it('Step lines start steps, Using cache marks them cached, the output is the step\'s (stderr unwrapped), the builder\'s own lines are not', () => {
    const events: EngineBuildEvent[] = [];
    const d = new ClassicSteps((e) => events.push(e));
    for (const l of CLASSIC) d.take(l);
    d.finish();
    expect(events.map((e) => `${e.n}:${e.type}${e.type === 'start' ? ` ${e.instruction}` : e.type === 'output' ? ` ${e.line}` : ''}`)).toEqual([
      '1:start FROM busybox', '1:end', '2:start ENV A=1', '2:cached', '2:end', '3:start RUN echo out; echo err >&2', '3:output out', '3:output err', '3:end',
    ]);
    expect(d.printedId).toBe('8d1f0c2a9e11');
    expect(d.failed()).toEqual({ at: { n: 3 }, tail: ['out', 'err'] });
  });
});

/** A fake engine client: `/version` as given, `/session` refused as an engine without BuildKit sessions answers, the build stream as the classic builder's. */
function fakeEngine(info: { kind: 'docker' | 'podman' | 'other'; api: string; os: string }, sessionStatus?: number) {
  const builds: Record<string, unknown>[] = [];
  const client = {
    info: async () => ({ ...info, engineApi: info.api, version: 'x', name: 'Engine', arch: 'amd64' }),
    hijack: async () => {
      throw new SlipwayError('ERR_RUNTIME', `engine POST /session: ${sessionStatus} page not found`, { cause: new EngineHttpError(sessionStatus ?? 404, 'page not found') });
    },
    stream: async (_m: string, _p: string, opts: { query: Record<string, unknown> }) => {
      builds.push(opts.query);
      return { body: Readable.from(CLASSIC.map((l) => `${JSON.stringify(l)}\r\n`)) };
    },
    call: async () => { throw new Error('not called'); },
  };
  return { client: client as never, builds };
}

describe('which builder builds on the engine', () => {
  it('BuildKit on Docker from API 1.39 on Linux; not on Podman (buildah), Windows or an older API', () => {
    expect(buildKitServed({ kind: 'docker', api: '1.41', os: 'linux' })).toBe(true);
    expect(buildKitServed({ kind: 'docker', api: '1.38', os: 'linux' })).toBe(false);
    expect(buildKitServed({ kind: 'docker', api: '1.41', os: 'windows' })).toBe(false);
    expect(buildKitServed({ kind: 'podman', api: '1.41', os: 'linux' })).toBe(false);
  });

  it('a refusal of BuildKit is an engine answer naming it; a failure inside a BuildKit build is not', () => {
    const http = (status: number, message: string) => new SlipwayError('ERR_BUILD', 'x', { cause: new SlipwayError('ERR_RUNTIME', 'y', { cause: new EngineHttpError(status, message) }) });
    expect(buildKitRefused(http(400, 'buildkit not supported by daemon'))).toBe(true);
    expect(buildKitRefused(http(400, 'invalid version "2"'))).toBe(true);
    expect(buildKitRefused(http(500, 'failed to solve with frontend dockerfile.v0: failed to create LLB definition: target stage nope could not be found'))).toBe(false);
    expect(buildKitRefused(new SlipwayError('ERR_BUILD', "the engine's build failed: buildkit says no"))).toBe(false);
  });

  it('an engine that refuses the BuildKit session gets the build again, for its classic builder, whose Step lines are the progress', async () => {
    const { client, builds } = fakeEngine({ kind: 'docker', api: '1.41', os: 'linux' }, 404);
    const asked: boolean[] = [];
    const events: EngineBuildEvent[] = [];
    const request = async ({ buildKit }: { buildKit: boolean }): Promise<EngineBuildRequest> => {
      asked.push(buildKit);
      return { context: Readable.from([Buffer.alloc(10)]), dockerfile: 'Dockerfile', tag: 'x:1', buildKit, onEvent: (e) => events.push(e) };
    };
    await expect(buildWithEngineBuilder(client, request)).resolves.toEqual({ ref: 'x:1', id: 'sha256:8d1f0c2a9e11', buildKit: false });
    expect(asked).toEqual([true, false]);
    expect(builds.map((q) => q.version)).toEqual([undefined]);
    expect(events.filter((e) => e.type === 'start')).toHaveLength(3);
  });

  it('Podman is asked for its classic builder only', async () => {
    const { client, builds } = fakeEngine({ kind: 'podman', api: '1.41', os: 'linux' });
    const asked: boolean[] = [];
    await buildWithEngineBuilder(client, async ({ buildKit }) => { asked.push(buildKit); return { context: Readable.from([]), dockerfile: 'Dockerfile', tag: 'x:1', buildKit }; });
    expect(asked).toEqual([false]);
    expect(builds).toHaveLength(1);
  });
});

/**
 * A build on the engine runtime: the engine's builder builds the context as `docker build` sends it, and its output is
 * translated to slipway's own terms (the classic builder's `Step n/m` lines → the same progress events and counts as
 * natively, the registries of FROM/COPY --from images for credentials, a failed step named by its Dockerfile line).
 */
import { SlipwayError } from '../errors.js';
import { parseReference } from '../image/reference.js';
import { buildOnEngine, failedEngineStep, type EngineBuildEvent } from '../runtime/index.js';
import type { BuildOptions, BuildResult } from './build-options.js';
import { refuseWhatTheClassicBuilderLacks } from './classic-builder.js';
import { contextTar } from './context-tar.js';
import type { Instruction, parseDockerfile } from './dockerfile.js';
import { imageRegistries } from './image-registries.js';
import { splitStages, type DockerfileStages } from './stages.js';

/** Where the classic builder's `Step n` sits in slipway's own numbering (per stage, FROM is 1, as natively). */
interface EngineStep {
  ins: Instruction;
  /** undefined for a global ARG (no step natively). */
  stage?: string;
  step: number;
  total: number;
}

function engineSteps({ globals, stages }: DockerfileStages): EngineStep[] {
  const out: EngineStep[] = globals.map((ins) => ({ ins, step: 0, total: 0 }));
  for (const st of stages) {
    const label = st.name ?? String(st.index);
    const total = st.steps.length + 1;
    out.push({ ins: st.from, stage: label, step: 1, total });
    st.steps.forEach((ins, i) => out.push({ ins, stage: label, step: i + 2, total }));
  }
  return out;
}

/**
 * On the engine runtime the engine's builder builds (its store is where containers start from): the context as
 * `docker build` sends it. RUN secrets have no counterpart in the classic builder's API and are refused, as is the
 * Dockerfile syntax only BuildKit has. Its `Step n/m` lines become the same progress events and counts as natively
 * (a RUN/COPY/ADD/WORKDIR cached or run; FROM and config-only steps reported as cached).
 */
export async function buildWithEngine(context: string, df: ReturnType<typeof parseDockerfile>, opts: BuildOptions): Promise<BuildResult | undefined> {
  const split = splitStages(df.instructions);
  const steps = engineSteps(split);
  let cached = 0;
  let executed = 0;
  let running: { s: EngineStep; started?: number } | undefined;
  const progress = (e: EngineBuildEvent): void => {
    const s = steps[e.n - 1];
    if (!s?.stage) return;
    const counted = ['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(s.ins.keyword);
    const base = { stage: s.stage, step: s.step, total: s.total, instruction: s.ins.original };
    if (e.type === 'start') {
      running = { s };
      if (!counted) opts.onProgress?.({ type: 'step', ...base, cached: true });
      return;
    }
    if (!counted || running?.s !== s) return;
    if (e.type === 'cached' && running.started === undefined) {
      cached++;
      running = undefined;
      opts.onProgress?.({ type: 'step', ...base, cached: true });
      return;
    }
    if (running.started === undefined) {
      executed++;
      running.started = Date.now();
      opts.onProgress?.({ type: 'step', ...base, cached: false });
    }
    if (e.type === 'output') opts.onProgress?.({ type: 'output', stage: s.stage, step: s.step, line: e.line, stream: 'stdout' });
    if (e.type === 'end') opts.onProgress?.({ type: 'done', ...base, durationMs: Date.now() - running.started });
  };
  const built = await buildOnEngine(async () => {
    if (opts.secrets && Object.keys(opts.secrets).length) {
      throw new SlipwayError('ERR_UNSUPPORTED', 'build secrets (RUN --mount=type=secret) are not supported on the engine runtime: the engine\'s build API has no way to pass them', {
        hint: 'build without secrets, or use SLIPWAY_RUNTIME=native',
      });
    }
    refuseWhatTheClassicBuilderLacks(df.instructions, split.globals);
    const { tar, dockerfile } = await contextTar(context, opts.dockerfile);
    return {
      context: tar, dockerfile, tag: opts.tag === undefined ? undefined : parseReference(opts.tag).string, buildArgs: opts.buildArgs,
      target: opts.target, platform: opts.platform, cache: opts.cache, pullPolicy: opts.pullPolicy, signal: opts.signal, onEvent: progress,
      registries: imageRegistries(split, opts.buildArgs ?? {}),
    };
  }).catch((err: unknown) => {
    throw engineStepError(err, steps);
  });
  // The engine keeps the image: no manifest exists until it is pushed, so both digests are its image id (the config's).
  return built === undefined ? undefined : { ref: built.ref, digest: built.id, configDigest: built.id, cached, executed };
}

/** An engine build error named as natively: `Dockerfile line N: <instruction> exited with code C`, or its line. */
function engineStepError(err: unknown, steps: readonly EngineStep[]): unknown {
  const failed = failedEngineStep(err);
  const s = failed && steps[failed.n - 1];
  if (!s || !SlipwayError.is(err)) return err;
  if (failed.exitCode !== undefined) {
    const details = err.message.slice(err.message.indexOf('\n') + 1);
    return new SlipwayError('ERR_BUILD_STEP_FAILED', `Dockerfile line ${s.ins.line}: ${s.ins.original} exited with code ${failed.exitCode}`, {
      hint: 'fix the command; the output above shows why it failed', details: err.message.includes('\n') ? details : '(no output)', cause: err,
    });
  }
  return new SlipwayError(err.code, `Dockerfile line ${s.ins.line} (${s.ins.keyword}): ${err.shortMessage}`, { hint: err.hint, cause: err });
}

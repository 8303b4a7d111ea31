/**
 * A build on the engine runtime: the engine's builder builds the context as `docker build` sends it, and its output is
 * translated to slipway's own terms (BuildKit's steps, or the classic builder's `Step n/m` lines → the same progress
 * events and counts as natively, the registries of FROM/COPY --from images for credentials, a failed step named by its Dockerfile line).
 */
import { SlipwayError } from '../errors.js';
import { parseReference } from '../image/reference.js';
import { buildOnEngine, failedEngineStep, type EngineBuildEvent, type EngineStepRef } from '../runtime/index.js';
import type { BuildOptions, BuildResult } from './build-options.js';
import { whatTheEngineBuilderLacks } from './classic-builder.js';
import { contextTar } from './context-tar.js';
import { secretValue } from './run-mounts.js';
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
  /** Its number in BuildKit's count, which has only FROM and the steps that change files (`[stage 2/3]`). */
  vertex?: number;
}

/** The steps that change files: counted as run or cached, and the only ones (with FROM) BuildKit shows. */
const FILE_STEPS = ['RUN', 'COPY', 'ADD', 'WORKDIR'];

/**
 * The step an engine event names: the classic builder's `Step n` counts every instruction; BuildKit names the stage
 * (its name, else `stage-<index>`; none when the frontend left it out for a single stage: the last stage) and counts
 * FROM and the file steps only (config-only steps make no vertex, so they are not reported on BuildKit).
 */
function stepOf(steps: readonly EngineStep[], at: EngineStepRef): EngineStep | undefined {
  if (at.n) return steps[at.n - 1];
  const stage = at.stage === undefined ? steps.at(-1)?.stage : /^stage-(\d+)$/.exec(at.stage)?.[1] ?? at.stage;
  return steps.find((s) => s.stage === stage && s.vertex === at.step);
}

function engineSteps({ globals, stages }: DockerfileStages): EngineStep[] {
  const out: EngineStep[] = globals.map((ins) => ({ ins, step: 0, total: 0 }));
  for (const st of stages) {
    const label = st.name ?? String(st.index);
    const total = st.steps.length + 1;
    out.push({ ins: st.from, stage: label, step: 1, total, vertex: 1 });
    let vertex = 1;
    st.steps.forEach((ins, i) => out.push({ ins, stage: label, step: i + 2, total, vertex: FILE_STEPS.includes(ins.keyword) ? ++vertex : undefined }));
  }
  return out;
}

/**
 * On the engine runtime the engine's builder builds (its store is where containers start from): the context as
 * `docker build` sends it, to Docker's BuildKit by default. Where the classic builder builds, RUN secrets (no
 * counterpart in its API) and the Dockerfile syntax only BuildKit has are refused (Podman's builder is buildah, which
 * has it). Either builder's steps become the same progress events and counts as natively (a RUN/COPY/ADD/WORKDIR
 * cached or run; FROM and config-only steps reported as cached).
 */
export async function buildWithEngine(context: string, df: ReturnType<typeof parseDockerfile>, opts: BuildOptions): Promise<BuildResult | undefined> {
  const split = splitStages(df.instructions);
  const steps = engineSteps(split);
  let cached = 0;
  let executed = 0;
  // BuildKit runs the steps of different stages at once: each running step is tracked on its own.
  const running = new Map<EngineStep, { started?: number }>();
  // BuildKit makes no vertex for a config-only step (ENV, CMD…): it is reported as cached before the next step of its
  // stage starts, or at the end of the build, so that every step of a built stage shows as natively and in its order.
  const reported = new Set<EngineStep>();
  const configOnlyUpTo = (stage: string, step: number): void => {
    for (const t of steps) {
      if (t.stage !== stage || t.step >= step || t.vertex !== undefined || reported.has(t)) continue;
      reported.add(t);
      opts.onProgress?.({ type: 'step', stage, step: t.step, total: t.total, instruction: t.ins.original, cached: true });
    }
  };
  const progress = (e: EngineBuildEvent): void => {
    const s = stepOf(steps, e);
    if (!s?.stage) return;
    const counted = FILE_STEPS.includes(s.ins.keyword);
    const base = { stage: s.stage, step: s.step, total: s.total, instruction: s.ins.original };
    if (e.type === 'start') {
      if (!e.n) configOnlyUpTo(s.stage, s.step);
      reported.add(s);
      running.set(s, {});
      if (!counted) opts.onProgress?.({ type: 'step', ...base, cached: true });
      return;
    }
    const r = running.get(s);
    if (!counted || !r) return;
    if (e.type === 'cached' && r.started === undefined) {
      cached++;
      running.delete(s);
      opts.onProgress?.({ type: 'step', ...base, cached: true });
      return;
    }
    if (r.started === undefined) {
      executed++;
      r.started = Date.now();
      opts.onProgress?.({ type: 'step', ...base, cached: false });
    }
    if (e.type === 'output') opts.onProgress?.({ type: 'output', stage: s.stage, step: s.step, line: e.line, stream: e.stream ?? 'stdout' });
    if (e.type === 'end') {
      running.delete(s);
      opts.onProgress?.({ type: 'done', ...base, durationMs: Date.now() - r.started });
    }
  };
  const secretIds = Object.keys(opts.secrets ?? {});
  const built = await buildOnEngine(async ({ buildKit, kind }) => {
    // Docker's BuildKit by default (DOCKER_BUILDKIT=0 keeps the classic builder, as for the docker CLI, where it can build).
    const useBuildKit = buildKit && (kind === 'docker' && process.env.DOCKER_BUILDKIT !== '0' || secretIds.length > 0 || whatTheEngineBuilderLacks(df.instructions, split.globals, 'classic') !== undefined);
    if (secretIds.length && !useBuildKit) {
      throw new SlipwayError('ERR_UNSUPPORTED', 'build secrets (RUN --mount=type=secret) are not supported by this engine: its builder has no BuildKit session to pass them (Podman, or Docker before 18.09)', {
        hint: 'build without secrets, or use SLIPWAY_RUNTIME=native',
      });
    }
    // Podman's POST /build is buildah, which has heredocs, COPY --chmod, RUN --mount…: what it lacks it says itself.
    const lacking = kind === 'podman' ? undefined : whatTheEngineBuilderLacks(df.instructions, split.globals, useBuildKit ? 'buildkit' : 'classic');
    if (lacking) throw lacking;
    // Read now, bounded as natively; a secret whose file or variable is absent is not served (BuildKit: not found).
    const secrets = new Map<string, Buffer>();
    for (const id of secretIds) {
      const value = await secretValue(opts.secrets![id]!);
      if (value) secrets.set(id, value);
    }
    const { tar, dockerfile } = await contextTar(context, opts.dockerfile);
    return {
      context: tar, dockerfile, tag: opts.tag === undefined ? undefined : parseReference(opts.tag).string, buildArgs: opts.buildArgs,
      target: opts.target, platform: opts.platform, cache: opts.cache, pullPolicy: opts.pullPolicy, signal: opts.signal, onEvent: progress,
      registries: imageRegistries(split, opts.buildArgs ?? {}), buildKit: useBuildKit, secrets,
    };
  }).catch((err: unknown) => {
    throw engineStepError(err, steps);
  });
  if (built?.buildKit) for (const stage of new Set([...reported].map((t) => t.stage!))) configOnlyUpTo(stage, Infinity);
  // The engine keeps the image: no manifest exists until it is pushed, so both digests are its image id (the config's).
  return built === undefined ? undefined : { ref: built.ref, digest: built.id, configDigest: built.id, cached, executed };
}

/** An engine build error named as natively: `Dockerfile line N: <instruction> exited with code C`, or its line. */
function engineStepError(err: unknown, steps: readonly EngineStep[]): unknown {
  const failed = failedEngineStep(err);
  const s = failed && stepOf(steps, failed);
  if (!s || !SlipwayError.is(err)) return err;
  if (failed.exitCode !== undefined) {
    const details = err.message.slice(err.message.indexOf('\n') + 1);
    return new SlipwayError('ERR_BUILD_STEP_FAILED', `Dockerfile line ${s.ins.line}: ${s.ins.original} exited with code ${failed.exitCode}`, {
      hint: 'fix the command; the output above shows why it failed', details: err.message.includes('\n') ? details : '(no output)', cause: err,
    });
  }
  return new SlipwayError(err.code, `Dockerfile line ${s.ins.line} (${s.ins.keyword}): ${err.shortMessage}`, { hint: err.hint, cause: err });
}

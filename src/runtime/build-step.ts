/**
 * One RUN step of an image build: a hardened slipway container (Docker's default capabilities and seccomp profile,
 * isolated network) over the stage's layers, run to completion; its overlay upper directory, turned into a layer
 * tar, is the step's change. The builder (src/build/) calls this through the runtime's door.
 */
import type { Image } from '../image/pull.js';
import type { LayerDiff } from '../image/layer-diff.js';
import { diffContainerUpper, mapBack } from './upper-diff.js';
import { Keeper } from './keeper/keeper.js';
import { launchContainer } from './launch.js';
import type { LaunchPlan, Mount, NetworkMode } from './launch-plan.js';
import { readLogLines } from './log-reader.js';
import type { ExitInfo } from './runtime-container.js';

/** What a RUN step runs. */
export interface BuildStepSpec {
  /** The stage so far: its layers (unpacked, bottom first) and config. */
  image: Image;
  argv: readonly string[];
  /** The full environment (the stage's ENV over its ARGs). */
  env: Readonly<Record<string, string>>;
  user?: string;
  workdir?: string;
  /** Bind (cache) and tmpfs mounts of the step (`RUN --mount`); their contents never reach the layer. */
  mounts?: readonly Mount[];
  /** @defaultValue 'isolated' (outbound through slirp4netns/pasta when installed) */
  networkMode?: NetworkMode;
  /** Each output line as the step ends. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
}

/** A finished RUN step; `remove()` must be called (it removes the container and its upper dir). */
export interface BuildStepResult {
  exit: ExitInfo;
  /** The output, stdout and stderr in order (at most the last 200 lines). */
  lastLines: string[];
  /** Writes the step's change as a layer tar to `dest`. */
  commit(dest: string): Promise<LayerDiff>;
  remove(): Promise<void>;
}

/** Maps the owners of files in layers and upper dirs (host ids) back to the container's ids, through the keeper's mapping. */
export async function containerIdMapper(): Promise<{ uid: (host: number) => number; gid: (host: number) => number }> {
  const { mapping } = await Keeper.get();
  if (mapping.kind === 'identity') return { uid: (n) => n, gid: (n) => n };
  return { uid: mapBack(mapping.uidMap), gid: mapBack(mapping.gidMap) };
}

/** Runs one RUN step to completion. */
export async function runBuildStep(spec: BuildStepSpec): Promise<BuildStepResult> {
  const keeper = await Keeper.get();
  const plan: LaunchPlan = {
    image: spec.image.ref,
    command: [...spec.argv],
    entrypoint: [],
    env: {},
    user: spec.user || undefined,
    workdir: spec.workdir || undefined,
    mounts: [...(spec.mounts ?? [])], files: [], ports: [], networks: [],
    networkMode: spec.networkMode ?? 'isolated',
    ulimits: {}, capAdd: [], capDrop: [], seccomp: 'default', extraHosts: {},
    bestEffortLimits: false, pullPolicy: 'never',
  };
  const image: Image = { ...spec.image, config: { ...spec.image.config, Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } };
  const handle = await launchContainer(plan, spec.signal, image);
  let exit: ExitInfo;
  try {
    const onAbort = (): void => void handle.kill('SIGKILL').catch(() => {});
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      exit = await handle.exited();
    } finally {
      spec.signal?.removeEventListener('abort', onAbort);
    }
  } catch (e) {
    await handle.remove().catch(() => {});
    throw e;
  }
  const lastLines: string[] = [];
  for await (const l of readLogLines(handle.logPath)) {
    spec.onOutput?.(l.text, l.stream);
    lastLines.push(l.text);
    if (lastLines.length > 200) lastLines.shift();
  }
  const upper = handle.upperDir;
  const lowersTopFirst = spec.image.layers.map((l) => l.dir!).reverse();
  return {
    exit,
    lastLines,
    commit: (dest) => diffContainerUpper(keeper, upper, lowersTopFirst, dest, (spec.mounts ?? []).map((m) => m.target)),
    remove: () => handle.remove(),
  };
}

/**
 * One RUN step of an image build: a hardened slipway container (Docker's default capabilities and seccomp profile,
 * isolated network) over the stage's layers, run to completion; its overlay upper directory, turned into a layer
 * tar, is the step's change. The builder (src/build/) calls this through the runtime's door.
 */
import { readdirSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Image } from '../image/pull.js';
import { diffUpperDir, type LayerDiff } from '../image/layer-diff.js';
import type { IdMapLine } from './keeper/id-mapping.js';
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

/** Paths the runtime creates as mount points when the image lacks them: not part of the step's change. */
const MOUNT_STUBS = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'dev', 'proc', 'sys']);

function mapBack(lines: readonly IdMapLine[]): (host: number) => number {
  if (lines.length === 0) return (n) => n;
  return (host) => {
    for (const l of lines) if (host >= l.outside && host < l.outside + l.count) return l.inside + (host - l.outside);
    return 65534; // an id outside the mapping reads as the overflow id, as inside the namespace
  };
}

/** Maps the owners of files in layers and upper dirs (host ids) back to the container's ids, through the keeper's mapping. */
export async function containerIdMapper(): Promise<{ uid: (host: number) => number; gid: (host: number) => number }> {
  const { mapping } = await Keeper.get();
  if (mapping.kind === 'identity') return { uid: (n) => n, gid: (n) => n };
  return { uid: mapBack(mapping.uidMap), gid: mapBack(mapping.gidMap) };
}

async function existsInLayers(dirsTopFirst: readonly string[], rel: string): Promise<boolean> {
  for (const d of dirsTopFirst) if (await lstat(join(d, rel)).then(() => true, () => false)) return true;
  return false;
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
  const upper = join(handle.stateDir, 'upper');
  const lowersTopFirst = spec.image.layers.map((l) => l.dir!).reverse();
  return {
    exit,
    lastLines,
    commit: async (dest) => {
      const stubs = new Set<string>();
      const candidates = new Set(MOUNT_STUBS);
      // A mount's target (and parents the runtime made for it) is a stub too, while it holds only stubs.
      for (const m of spec.mounts ?? []) {
        for (let t = m.target.replace(/^\/+/, ''); t && t !== '.'; t = posix.dirname(t)) candidates.add(t);
      }
      for (const s of candidates) if (!(await existsInLayers(lowersTopFirst, s))) stubs.add(s);
      const onlyStubs = (rel: string): boolean => {
        try {
          return readdirSync(join(upper, rel)).every((n) => stubs.has(`${rel}/${n}`) && onlyStubs(`${rel}/${n}`));
        } catch {
          return false;
        }
      };
      return diffUpperDir(upper, dest, {
        mapUid: keeper.mapping.kind === 'identity' ? undefined : mapBack(keeper.mapping.uidMap),
        mapGid: keeper.mapping.kind === 'identity' ? undefined : mapBack(keeper.mapping.gidMap),
        // A stub is left out only while it is still what the runtime made (an empty file or directory).
        exclude: (rel, st) => stubs.has(rel) && ((st.isFile() && st.size === 0) || (st.isDirectory() && onlyStubs(rel))),
      });
    },
    remove: () => handle.remove(),
  };
}

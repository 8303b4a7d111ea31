/**
 * The runtime's one door: what `api/` (and through it `cli/`) may use. Nothing above the runtime imports `keeper/`
 * internals or other runtime files directly, so the keeper, its protocol and the boot steps can change behind this.
 */
import { Keeper } from './keeper/keeper.js';
import { KeeperNetwork } from './keeper/keeper-network.js';
import type { Image } from '../image/pull.js';
import { SlipwayError, unsupported } from '../errors.js';
import { launchContainer as launchNative, resolveImage as resolveNativeImage } from './launch.js';
import type { LaunchPlan } from './launch-plan.js';
import type { RuntimeContainer } from './runtime-container.js';
import { nativeBySetting, selectRuntime } from './backend.js';
import { launchEngineContainer, engineVolumeName } from './engine/engine-launch.js';
import { EngineNetwork } from './engine/engine-network.js';
import { engineSession, existingEngineSession } from './engine/session.js';
import { pullEngineImage, pushEngineImage, type EnginePulledImage, type EnginePullOptions, type EnginePushedImage } from './engine/engine-image.js';
import { buildWithEngineBuilder, type EngineBuilderKind, type EngineBuildRequest, type EngineBuildResult } from './engine/engine-build.js';
import { EngineClient } from '../engine/client.js';
import { reuseEngineContainer } from './engine/engine-reuse.js';
import { listEngineContainers } from './engine/engine-list.js';
import { engineExec, engineInspect, engineLogLines, engineRemove, type EngineLogLine } from './engine/engine-cli.js';
import type { ContainerDescription } from './control/description.js';
import { reuseContainer as reuseNativeContainer } from './reuse/reuse-client.js';
import type { ReuseDeclined } from './reuse/reuse-keeper.js';

export { describeRuntime, selectRuntime, userNamespacesUsable, findEngine } from './backend.js';
export type { RuntimeSelection } from './backend.js';

/**
 * The seam between the API and a runtime. Two implement it: native (the keeper) and engine (a Docker or Podman
 * Engine API); `selectRuntime()` picks one per process. With the `runtime` setting at `native` (the default) the
 * native functions are called directly, exactly as before the seam.
 */
export interface RuntimeBackend {
  readonly kind: 'native' | 'engine';
  /** Creates and starts a container from a plan (not yet waited for). */
  launch(plan: LaunchPlan, signal?: AbortSignal): Promise<RuntimeContainer>;
  /** Creates a user network; `name` is the API's (the engine's network is called so). */
  createNetwork(id: string, name: string): Promise<UserNetwork>;
  /** Removes a named volume's storage the runtime holds (the native one lives in a host directory the API removes). */
  removeVolume(name: string, keep: boolean): Promise<void>;
}

/** A user network as the API's `Network` drives it (the keeper's namespace and bridge, or an engine network). */
export interface UserNetwork {
  attach(containerId: string, names?: readonly string[]): Promise<{ ip: string }>;
  detach(containerId: string): void;
  remove(): Promise<void>;
}

const native: RuntimeBackend = {
  kind: 'native',
  launch: (plan, signal) => launchNative(plan, signal),
  createNetwork: async (id) => KeeperNetwork.create(await Keeper.get(), { id }),
  removeVolume: async () => {},
};

/** The backend of this process (the `runtime` setting; `auto` decides once). */
export async function runtimeBackend(): Promise<RuntimeBackend> {
  if (nativeBySetting()) return native;
  const sel = await selectRuntime();
  if (sel.kind === 'native') return native;
  const endpoint = sel.endpoint!;
  return {
    kind: 'engine',
    launch: (plan, signal) => launchEngineContainer(plan, endpoint, signal),
    createNetwork: async (_id, name) => {
      const s = await engineSession(endpoint);
      return EngineNetwork.create(s.client, name, s.labels);
    },
    removeVolume: async (name, keep) => {
      const s = await existingEngineSession();
      if (!s) return;
      await s.client.call('DELETE', `/volumes/${encodeURIComponent(engineVolumeName(name, keep, s.id))}`, { query: { force: 1 } }).catch(() => {});
    },
  };
}

/**
 * Turns a launch plan into a created, started container on this process's runtime.
 * @param resolved - An image already resolved (a build's intermediate state): native only.
 */
export async function launchContainer(plan: LaunchPlan, signal?: AbortSignal, resolved?: Image): Promise<RuntimeContainer> {
  if (nativeBySetting()) return launchNative(plan, signal, resolved);
  const backend = await runtimeBackend();
  if (backend.kind === 'native') return launchNative(plan, signal, resolved);
  if (resolved) throw unsupported('a build step', 'the engine backend does not run slipway\'s builder', 'SLIPWAY_RUNTIME=native');
  return backend.launch(plan, signal);
}

/**
 * Resolves a plan's image as a native launch would (for snapshots, which are layers in slipway's store over it).
 * @throws SlipwayError `ERR_UNSUPPORTED` on the engine backend
 */
export async function resolveImage(plan: Pick<LaunchPlan, 'image' | 'pullPolicy' | 'platform' | 'pullTimeout'>, signal?: AbortSignal): Promise<{ image: Image; mappingKey: string }> {
  if (!nativeBySetting() && (await runtimeBackend()).kind !== 'native') {
    throw unsupported('withSnapshot()', 'snapshots are layers in slipway\'s store, which an engine runtime does not mount', 'use SLIPWAY_RUNTIME=native, or start without withSnapshot()');
  }
  return resolveNativeImage(plan, signal);
}

/** Whether this process's containers run on an engine (the `runtime` setting, or `auto` finding no user namespaces). */
export async function onEngineRuntime(): Promise<boolean> {
  if (nativeBySetting()) return false;
  return (await selectRuntime()).kind !== 'native';
}

/**
 * The public `pull()` on the engine runtime: the engine pulls into its own store (progress mapped to `onProgress`,
 * credentials sent as `X-Registry-Auth`). `undefined` on the native runtime, whose pull fills slipway's store.
 */
export async function pullOnEngine(ref: string, opts: EnginePullOptions & { timeout?: number }): Promise<EnginePulledImage | undefined> {
  if (nativeBySetting()) return undefined;
  const sel = await selectRuntime();
  if (sel.kind === 'native') return undefined;
  // A pull makes no resources: a client of its own, without the session's watchdog.
  const client = new EngineClient(sel.endpoint!);
  try {
    return await pullEngineImage(client, ref, opts);
  } finally {
    await client.close();
  }
}

/**
 * `pushImage()` of an image in the engine's store (`docker push`, our credentials as `X-Registry-Auth`). `undefined`
 * on the native runtime, or when the engine does not hold the image.
 */
export async function pushOnEngine(ref: string, opts: { to?: string; signal?: AbortSignal }): Promise<EnginePushedImage | undefined> {
  if (nativeBySetting()) return undefined;
  const sel = await selectRuntime();
  if (sel.kind === 'native') return undefined;
  const client = new EngineClient(sel.endpoint!);
  try {
    return await pushEngineImage(client, ref, opts);
  } finally {
    await client.close();
  }
}

export type { EngineBuildEvent, EngineBuildRequest, EngineBuildResult, EngineStepRef } from './engine/engine-build.js';
export { failedEngineStep } from './engine/engine-build.js';

export type { EngineBuilderKind } from './engine/engine-build.js';

/**
 * A build on the engine runtime: the engine's builder (`POST /build`) gets the context `request()` makes, and the
 * image lands in the engine's store. `undefined` on the native runtime, whose builder writes slipway's store.
 */
export async function buildOnEngine(request: (builder: EngineBuilderKind) => Promise<EngineBuildRequest>): Promise<EngineBuildResult | undefined> {
  if (nativeBySetting()) return undefined;
  const sel = await selectRuntime();
  if (sel.kind === 'native') return undefined;
  // A build makes no session resources (its intermediate containers are removed by the engine): a client of its own.
  const client = new EngineClient(sel.endpoint!);
  try {
    return await buildWithEngineBuilder(client, request);
  } finally {
    await client.close();
  }
}

/** Removes what a runtime holds for a named volume (an engine volume); nothing for native. */
export async function removeRuntimeVolume(name: string, keep: boolean): Promise<void> {
  if (nativeBySetting() || !existingEngineSession()) return;
  await (await runtimeBackend()).removeVolume(name, keep);
}
/**
 * The container for a `withReuse()` plan: natively from the user's reuse keeper (which may decline: the caller then
 * launches it itself), on an engine the one labelled with the same reuse key (`engine/engine-reuse.ts`).
 */
export async function reuseContainer(
  plan: LaunchPlan & { labels?: Readonly<Record<string, string>>; stopTimeout?: number }, opts: { idleTimeoutMs: number; signal?: AbortSignal },
): Promise<RuntimeContainer | ReuseDeclined> {
  if (!nativeBySetting()) {
    const sel = await selectRuntime();
    if (sel.kind === 'engine') return reuseEngineContainer(plan, sel.endpoint!, opts.signal);
  }
  return reuseNativeContainer(plan, opts);
}
export type { ReuseDeclined } from './reuse/reuse-keeper.js';
export { containerIdMapper, runBuildStep } from './build-step.js';
export type { BuildStepResult, BuildStepSpec } from './build-step.js';
export { readFromLayers } from './layered-files.js';
export { resolveUser } from './user.js';
export type { ResolvedUser } from './user.js';
export type {
  BindMount, FileCopy, HostAccess, LaunchPlan, Mount, NetworkJoin, NetworkMode, PortBinding, TmpfsMount, VolumeMount,
} from './launch-plan.js';
export { tmpfsWords } from './launch-plan.js';
export type { CopyEntry, ExecOptions, ExecResult, ExitInfo, RuntimeContainer } from './runtime-container.js';
export type { NetworkAttachable, NetworkMember } from './network-membership.js';
export type { VolumeSource } from './volume-source.js';
export { readLogLines } from './log-reader.js';
export { hostEntries } from './host-entries.js';
export { entriesOfArchive, tarOfEntries } from './copy-archive.js';
export { extractToHost } from './host-extract.js';
export { MIN_MEMORY, parseCpus, parseMemory } from './cgroups/parse-limits.js';
export { CAP_NUMBERS } from './keeper/keeper.js';
export { subordinateIdStatus, SUBID_FIX } from './keeper/subordinate-ids.js';
export type { SubordinateIdStatus } from './keeper/subordinate-ids.js';
export type { ContainerDescription } from './control/description.js';
export {
  execInContainer, findContainer, listContainers, removeContainer, socketsNamed, stopContainer, waitForExit,
  type ContainerListing, type LocatedContainer,
} from './control/client.js';
export { onJsonLines, sendJson } from './control/lines.js';

/**
 * The containers an engine runs for slipway sessions and for reuse (`slipway ps` when the runtime is an engine, as
 * `docker ps` lists every process's); none with the native runtime.
 */
export async function listEngineSessionContainers(): Promise<ContainerDescription[]> {
  if (nativeBySetting()) return [];
  const sel = await selectRuntime();
  return sel.kind === 'engine' ? listEngineContainers(sel.endpoint!) : [];
}

/** Whether the runtime setting selects an engine (the CLI refuses what only slipway's own store can do there). */
export async function engineRuntimeSelected(): Promise<boolean> {
  if (nativeBySetting()) return false;
  return (await selectRuntime()).kind === 'engine';
}

async function engineEndpoint() {
  const sel = await selectRuntime();
  if (sel.kind !== 'engine') throw new SlipwayError('ERR_RUNTIME_UNAVAILABLE', 'no engine runtime is selected', { hint: 'SLIPWAY_RUNTIME=engine' });
  return sel.endpoint!;
}

/** Output lines of an engine container listed by {@link listEngineSessionContainers} (any process's). */
export async function* engineContainerLogs(id: string, opts: { follow?: boolean; tail?: number; since?: Date }): AsyncGenerator<EngineLogLine> {
  yield* engineLogLines(await engineEndpoint(), id, opts);
}

/** Removes an engine container listed by {@link listEngineSessionContainers} (`slipway rm`; running ones only with `force`). */
export async function engineContainerRemove(d: ContainerDescription, force: boolean): Promise<void> {
  await engineRemove(await engineEndpoint(), d.id, d.name, force);
}

/** An engine container's description with what only the engine's inspect knows (environment names, hostname, user, workdir). */
export async function engineContainerDescription(d: ContainerDescription): Promise<ContainerDescription> {
  return { ...d, ...await engineInspect(await engineEndpoint(), d.id) };
}

/** Runs a command in an engine container listed by {@link listEngineSessionContainers} (any process's). */
export async function engineContainerExec(id: string, argv: readonly string[], opts: Parameters<typeof engineExec>[3]): ReturnType<typeof engineExec> {
  return engineExec(await engineEndpoint(), id, argv, opts);
}

/** Creates a user network: a namespace + bridge in this process's keeper, or an engine network named `name`. */
export async function createUserNetwork(id: string, name = id): Promise<UserNetwork> {
  if (nativeBySetting()) return KeeperNetwork.create(await Keeper.get(), { id });
  return (await runtimeBackend()).createNetwork(id, name);
}

/** This process's state dir (removed with the keeper): where process-lifetime volumes live. */
export async function processStateDir(): Promise<string> {
  return (await Keeper.get()).stateDir;
}

/** How pulled layers get their owners: the keeper's id-mapping key and its ownership pass (inside its user namespace). */
export async function layerOwnership(): Promise<{ mappingKey: string; applyOwnership: (dir: string, list: string) => Promise<void>; removeTree: (p: string) => Promise<void> }> {
  const keeper = await Keeper.get();
  return { mappingKey: keeper.mappingKey, applyOwnership: (dir, list) => keeper.chownList(dir, list), removeTree: (p) => keeper.rmtree(p) };
}

/** Removes a tree that may hold files of the containers' subordinate ids (inside the keeper's user namespace). */
export async function removeTree(path: string): Promise<void> {
  await (await Keeper.get()).rmtree(path);
}
export { markRunRoot } from './keeper/run-owner.js';

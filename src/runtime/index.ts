/**
 * The runtime's one door: what `api/` (and through it `cli/`) may use. Nothing above the runtime imports `keeper/`
 * internals or other runtime files directly, so the keeper, its protocol and the boot steps can change behind this.
 */
import { Keeper } from './keeper/keeper.js';
import { KeeperNetwork } from './keeper/keeper-network.js';

export { launchContainer } from './launch.js';
export { containerIdMapper, runBuildStep } from './build-step.js';
export type { BuildStepResult, BuildStepSpec } from './build-step.js';
export { readFromLayers } from './layered-files.js';
export { resolveUser } from './user.js';
export type { ResolvedUser } from './user.js';
export type {
  BindMount, FileCopy, HostAccess, LaunchPlan, Mount, NetworkJoin, NetworkMode, PortBinding, TmpfsMount, VolumeMount,
} from './launch-plan.js';
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
  execInContainer, findContainer, listContainers, removeContainer, stopContainer, waitForExit,
  type ContainerListing, type LocatedContainer,
} from './control/client.js';
export type { KeeperNetwork as UserNetwork } from './keeper/keeper-network.js';

/** Creates a user network (namespace + bridge) in this process's keeper. */
export async function createUserNetwork(id: string): Promise<KeeperNetwork> {
  return KeeperNetwork.create(await Keeper.get(), { id });
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

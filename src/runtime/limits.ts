import type { LaunchPlan } from './launch-plan.js';
import { logger } from '../internal/debug.js';
import { addProcess, createCgroup, detectCgroups, sweepCgroups, type CgroupHandle, type ResourceLimits } from './cgroups/index.js';

const log = logger('limits');

/** A container's resource limits as applied: add its process, read OOM, remove. */
export interface LimitsHandle {
  /** The cgroup directories (one on v2, one per controller on v1). */
  readonly paths: readonly string[];
  addProcess(pid: number): Promise<void>;
  oomKilled(): Promise<boolean>;
  remove(): Promise<void>;
}

let environment: ReturnType<typeof detectCgroups> | undefined;

/** Creates the container's cgroup when any limit was asked; undefined when none was (or best effort could not). */
export async function applyLimits(id: string, options: LaunchPlan): Promise<LimitsHandle | undefined> {
  const limits: ResourceLimits = {};
  if (options.memory !== undefined) limits.memory = options.memory;
  if (options.memorySwap !== undefined) limits.memorySwap = options.memorySwap;
  if (options.cpus !== undefined) limits.cpus = options.cpus;
  if (options.pids !== undefined) limits.pids = options.pids;
  if (Object.keys(limits).length === 0) return undefined;
  // First use in this process: detect, and sweep what killed runs left (empty cgroups only).
  environment ??= detectCgroups().then(async (env) => {
    await sweepCgroups(env).catch((e) => log('sweep: %O', e));
    return env;
  });
  const handle: CgroupHandle | undefined = await createCgroup(await environment, id, limits, { bestEffort: options.bestEffortLimits });
  if (!handle) return undefined;
  return {
    paths: [...new Set(Object.values(handle.paths))],
    addProcess: (pid) => addProcess(handle, pid),
    oomKilled: () => handle.oomKilled(),
    remove: () => handle.remove(),
  };
}

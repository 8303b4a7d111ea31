export { detectCgroups, parseProcCgroup, type DetectCgroupsOptions } from './detect.js';
export { createCgroup, addProcess, sharesToWeight, validateLimits, type CreateCgroupOptions } from './create-cgroup.js';
export { parseMemory, parseCpus } from './parse-limits.js';
export { sweepCgroups } from './sweep-cgroups.js';
export type { CgroupController, CgroupEnvironment, CgroupHandle, ResourceLimits } from './types.js';

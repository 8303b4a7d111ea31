import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { logger } from '../../internal/debug.js';

const log = logger('keeper');

/**
 * The environment variable naming the test run's root process (`<pid>` or `<pid>:<starttime>`): a
 * keeper started by any process that inherits it removes its containers when that process dies,
 * even while its own Node process lives on (a test runner's orphaned worker). Set by
 * `slipway/vitest` and `slipway/jest` global setups through {@link markRunRoot}; anything else
 * may set it too (`SLIPWAY_RUN_PID=$$` in a script).
 */
export const RUN_PID_ENV = 'SLIPWAY_RUN_PID';

/**
 * Field 22 of `/proc/<pid>/stat` (start time in clock ticks after boot), which tells a reused pid
 * apart, or `undefined` when the process is gone or unreadable.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm (field 2) may hold spaces and ')': the fields after the last ')' start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Marks this process as the root of a test run: keepers of processes that inherit the environment
 * from here on (a runner's workers) watch it and remove their containers when it dies. Idempotent;
 * an outer mark (a run inside a run) is kept.
 */
export function markRunRoot(env: NodeJS.ProcessEnv = process.env): void {
  if (env[RUN_PID_ENV]) return;
  const start = processStartTime(process.pid);
  env[RUN_PID_ENV] = start ? `${process.pid}:${start}` : String(process.pid);
}

/**
 * The processes this process's keeper must not outlive besides this one, as `--watch=` specs:
 * `SLIPWAY_RUN_PID`, and — so that it works without slipway's runner helpers too — the parent of a
 * forked vitest or jest worker (a child process with an IPC channel that the runner tags with
 * `VITEST_POOL_ID`/`TINYPOOL_WORKER_ID`/`JEST_WORKER_ID`). Worker threads need nothing: they die
 * with their process, and the keeper with it.
 */
export function runOwners(env: NodeJS.ProcessEnv = process.env, proc: Pick<NodeJS.Process, 'pid' | 'ppid' | 'channel'> = process, mainThread = isMainThread): string[] {
  const owners = new Map<string, string>(); // pid → spec
  const given = env[RUN_PID_ENV]?.trim();
  if (given) {
    if (/^\d+(:\d+)?$/.test(given)) {
      const pid = given.split(':')[0]!;
      if (Number(pid) !== proc.pid) owners.set(pid, given);
    } else log('ignoring %s=%j (expected <pid> or <pid>:<starttime>)', RUN_PID_ENV, given);
  }
  const forkedWorker = mainThread && proc.channel !== undefined && proc.ppid > 1
    && Boolean(env.VITEST_POOL_ID || env.TINYPOOL_WORKER_ID || env.JEST_WORKER_ID);
  if (forkedWorker) {
    const start = processStartTime(proc.ppid);
    if (start && !owners.has(String(proc.ppid))) owners.set(String(proc.ppid), `${proc.ppid}:${start}`);
  }
  return [...owners.values()];
}

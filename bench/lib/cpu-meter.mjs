// CPU time of a group of processes, from a cgroup of the bench's own (root only): cgroup v2's cpu.stat usage_usec, or
// v1's cpuacct.usage. A process moved in takes every child it forks later along, so the whole tree is counted,
// short-lived children included, which /proc/<pid>/stat (waited children only, 10 ms ticks) would miss.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** A CPU meter, or undefined (with why) where the bench cannot make a cgroup. */
export function cpuMeter(name) {
  if (process.getuid?.() !== 0) return { why: 'the CPU meter makes a cgroup: root only' };
  const v2 = existsSync(join(ROOT, 'cgroup.controllers'));
  const base = v2 ? ROOT : join(ROOT, 'cpuacct');
  if (!existsSync(base)) return { why: 'no cgroup v2 and no v1 cpuacct hierarchy' };
  const dir = join(base, `slipway-bench-${name}-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    return { why: `cannot make ${dir}: ${e.message}` };
  }
  // Each pid goes back where it was when the meter is closed (its cgroup in this hierarchy).
  const home = new Map();
  const cgroupOf = (pid) => {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const line = v2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => /^\d+:[^:]*\bcpuacct\b[^:]*:/.test(l));
    return line ? join(base, line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1)) : base;
  };
  return {
    dir,
    /** Moves a process (and so its later children) into the meter's cgroup. */
    enter(pid) {
      if (!home.has(pid)) home.set(pid, cgroupOf(pid));
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    },
    /** CPU time used by the processes in the cgroup so far (the dead included), in ms. */
    usageMs() {
      if (v2) return Number(readFileSync(join(dir, 'cpu.stat'), 'utf8').match(/^usage_usec (\d+)/m)[1]) / 1000;
      return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e6;
    },
    /** Sends the processes moved in back home and removes the cgroup (once the rest have exited). */
    close() {
      for (const [pid, from] of home) {
        try { writeFileSync(join(from, 'cgroup.procs'), String(pid)); } catch { /* gone */ }
      }
      try { rmdirSync(dir); } catch { /* a process still in it (EBUSY): left, named by the pid in its name */ }
    },
  };
}

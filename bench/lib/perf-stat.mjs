// `perf stat` counters of a process tree (software events and syscall tracepoints: no hardware counters needed, which
// this VM lacks), for a breakdown of where a scenario's work goes. Opt-in: the counting costs a little per syscall.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { has } from './proc.mjs';

export const PERF_EVENTS = [
  'task-clock', 'context-switches', 'cpu-migrations', 'page-faults', 'raw_syscalls:sys_enter',
  'syscalls:sys_enter_fsync', 'syscalls:sys_enter_fdatasync', 'syscalls:sys_enter_sync_file_range',
  'syscalls:sys_enter_write', 'syscalls:sys_enter_openat', 'syscalls:sys_enter_execve',
];

/** Why `perf stat` of these events cannot run here, or undefined when it can. */
export async function perfUnavailable() {
  if (!(await has('perf'))) return 'no perf (Debian: linux-perf)';
  const out = `/tmp/slipway-bench-perf-probe-${process.pid}`;
  const p = spawn('perf', ['stat', '-x', ',', '-o', out, '-e', PERF_EVENTS.join(','), '--', 'true'], { stdio: 'ignore' });
  const code = await new Promise((r) => { p.on('close', r); p.on('error', () => r(-1)); });
  const got = code === 0 ? readPerf(out) : undefined;
  rmSync(out, { force: true });
  const missing = got ? PERF_EVENTS.filter((e) => !(e in got)) : PERF_EVENTS;
  return missing.length ? `perf stat cannot count ${missing.join(', ')} here` : undefined;
}

/** argv to put before a command: counts it and every process it forks into `out`. */
export function perfPrefix(out) {
  return ['perf', 'stat', '-x', ',', '-o', out, '-e', PERF_EVENTS.join(','), '--'];
}

/** Counts a running process and what it forks from now on, until `stop()` (which resolves with the counters). */
export async function perfAttach(pid, out) {
  const p = spawn('perf', ['stat', '-x', ',', '-o', out, '-e', PERF_EVENTS.join(','), '-p', String(pid)], { stdio: 'ignore' });
  await sleep(300); // perf prints nothing once attached: give it the time it takes, outside what is timed
  return {
    async stop() {
      const closed = new Promise((r) => { if (p.exitCode !== null || p.signalCode !== null) r(); else p.once('close', r); });
      p.kill('SIGINT');
      await closed;
      return readPerf(out);
    },
  };
}

/** perf stat's CSV output: event → value (task-clock in ms); an event perf could not count is left out. */
export function readPerf(out) {
  const got = {};
  let text = '';
  try { text = readFileSync(out, 'utf8'); } catch { return got; }
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [value, , event] = line.split(',');
    const v = Number(value);
    if (event && Number.isFinite(v)) got[event.replace(/:u$/, '')] = v;
  }
  rmSync(out, { force: true });
  return got;
}

// Child processes, timing and /proc helpers shared by the scenarios.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** A scenario or subject that cannot run here; the reason is printed in the table. */
export class Skip extends Error {}

/**
 * Runs a command to completion. Rejects with the command, exit code and stderr unless `allowFail`.
 * @returns {Promise<{code: number, stdout: string, stderr: string, ms: number}>}
 */
export function sh(cmd, args = [], { allowFail = false, input, env, timeoutMs = 600_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env, cwd });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20_000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const res = { code: code ?? 128, stdout, stderr, ms };
      if (code !== 0 && !allowFail) {
        reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      } else resolve(res);
    });
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  });
}

/** Milliseconds taken by `fn`. */
export async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether a command exists on PATH. */
export async function has(cmd) {
  const r = await sh('sh', ['-c', `command -v ${cmd}`], { allowFail: true });
  return r.code === 0;
}

/** Every live process: pid → {ppid, comm, exe, cmdline}. */
export function processTable() {
  const table = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      let exe = '';
      try { exe = readlinkSync(`/proc/${d}/exe`); } catch { /* kernel thread or gone */ }
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      table.set(Number(d), { pid: Number(d), ppid, comm, exe, cmdline });
    } catch { /* exited meanwhile */ }
  }
  return table;
}

/** Descendants of `root` (not including it), in the table's order. */
export function descendants(root, table = processTable()) {
  const kids = new Map();
  for (const p of table.values()) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(p);
  }
  const out = [];
  const stack = [...(kids.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    stack.push(...(kids.get(p.pid) ?? []));
  }
  return out;
}

/** RSS and PSS of a process in KiB (from smaps_rollup), or undefined if it is gone. */
export function memoryOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { rssKiB: get('Rss'), pssKiB: get('Pss') };
  } catch {
    return undefined;
  }
}

/** Number of open fds of a process, or NaN. */
export function fdCount(pid) {
  try { return readdirSync(`/proc/${pid}/fd`).length; } catch { return Number.NaN; }
}

/** Polls `fn` until it returns truthy; rejects after `timeoutMs`. */
export async function until(fn, { timeoutMs = 60_000, intervalMs = 10, what = 'condition' } = {}) {
  const deadline = performance.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1 (free when asked; bind soon). */
export async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

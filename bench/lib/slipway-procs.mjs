// Finding slipway's helper processes (the keeper, per-container inits, network helpers) among the
// descendants of this Node process, and its on-disk state, for scenarios 7 and 8.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { descendants, processTable } from './proc.mjs';

const NOT_SLIPWAY = new Set(['docker-registry', 'registry', 'docker', 'skopeo', 'psql', 'netbench']);

/**
 * The processes slipway runs for this Node process: `keeper` (the helper whose parent is this
 * process), `inits` (its children but its janitors), `workloads` (what the inits run), `others` (e.g. slirp4netns).
 */
export function slipwayProcesses(table = processTable()) {
  const mine = descendants(process.pid, table).filter((p) => !NOT_SLIPWAY.has(p.comm));
  const keeper = mine.find((p) => p.ppid === process.pid && /slipway/.test(p.exe + p.cmdline.join(' ')));
  // The keeper's two janitors (native/janitor.h) are its children too, but no container's: they count as others.
  const inits = keeper ? mine.filter((p) => p.ppid === keeper.pid && p.comm !== 'slipway-janitor') : [];
  const initPids = new Set(inits.map((p) => p.pid));
  const workloads = descendants(process.pid, table).filter((p) => initPids.has(p.ppid));
  const workloadTree = new Set(workloads.flatMap((w) => [w.pid, ...descendants(w.pid, table).map((d) => d.pid)]));
  const others = mine.filter((p) => p !== keeper && !initPids.has(p.pid) && !workloadTree.has(p.pid));
  return { keeper, inits, workloads, others, all: mine };
}

/** Where slipway keeps per-keeper state (as ARCHITECTURE.md says). */
export function stateRoot() {
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, 'slipway');
  if (process.getuid() === 0) return '/run/slipway';
  return join(process.env.TMPDIR || '/tmp', `slipway-${process.getuid()}`);
}

/** Entries under every keeper-* dir of the state root. */
export function stateEntries() {
  const root = stateRoot();
  if (!existsSync(root)) return 0;
  let n = 0;
  for (const d of readdirSync(root)) {
    n += 1;
    try { n += readdirSync(join(root, d)).length; } catch { /* a file */ }
  }
  return n;
}

/** cgroup dirs whose path mentions slipway, in every v1 hierarchy and the v2 one. */
export function slipwayCgroups() {
  let n = 0;
  const walk = (dir, depth) => {
    if (depth > 4) return;
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (/slipway/.test(p)) n += 1;
      walk(p, depth + 1);
    }
  };
  for (const h of ['memory', 'pids', 'cpu', 'unified', '']) {
    const base = join('/sys/fs/cgroup', h);
    if (h === '' && existsSync('/sys/fs/cgroup/memory')) continue; // hybrid/v1: done above
    walk(base, 0);
  }
  return n;
}

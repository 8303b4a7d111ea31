// No vitest import: child processes of the tests (failed-start-child.mts) use this too.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Whether `pid` is a keeper's spare outbound helper (native/netpool.h): a slirp4netns attached by namespace path
 * (`--netns-type=path`, the namespace's fd at 5) to a network namespace no other process is in. A container's own,
 * prepared or not, shares its namespace with the container's init while that lives; one left behind by a container
 * that is gone would look like a spare, which the keeper's own tests (keeper/netns-pool) rule out.
 */
export function isSpareHelper(pid: number): boolean {
  let netns: string;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--netns-type=path')) return false;
    netns = readlinkSync(`/proc/${pid}/fd/5`);
  } catch { return false; }
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === pid) continue;
    try {
      // slirp4netns' own short-lived child, which joins the namespace to make the tap while it starts, is not another.
      if (readlinkSync(`/proc/${p}/ns/net`) === netns && ppidOf(p) !== pid) return false;
    } catch { /* gone, or not ours */ }
  }
  return true;
}

function ppidOf(p: string): number {
  const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * Whether keeper child `pid` is the keeper's network-namespace pool at work: a spare helper ({@link isSpareHelper}) or
 * the short-lived child making a spare's namespace (`slipway-netns`). Neither is anything of a container's.
 */
export function isPoolProcess(pid: number): boolean {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'slipway-netns') return true;
  } catch { return false; }
  return isSpareHelper(pid);
}

/**
 * The network namespace (`net:[inode]`) of the container whose init is `initPid`: init's own, or (init is not dumpable
 * once started, so rootless its /proc/<pid>/ns is refused) that of one of its children, the container's process.
 */
export function netnsOf(initPid: number): string | undefined {
  try { return readlinkSync(`/proc/${initPid}/ns/net`); } catch { /* not dumpable, or gone */ }
  let kids: string[] = [];
  try { kids = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { return undefined; }
  for (const k of kids) {
    try { return readlinkSync(`/proc/${k}/ns/net`); } catch { /* next */ }
  }
  return undefined;
}

/**
 * The slirp4netns/pasta processes serving the container whose init is `initPid`: those whose command line names its pid
 * (started for it) and those attached to its network namespace by path (a prepared namespace it joined: the fd at 5).
 */
export function outboundHelpersOf(initPid: number): Array<{ pid: number; tool: 'slirp4netns' | 'pasta' }> {
  const netns = netnsOf(initPid);
  const out: Array<{ pid: number; tool: 'slirp4netns' | 'pasta' }> = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    const tool = argv.some((x) => /slirp4netns$/.test(x)) ? 'slirp4netns' : argv.some((x) => /pasta$/.test(x)) ? 'pasta' : undefined;
    if (!tool) continue;
    let mine = argv.includes(String(initPid));
    if (!mine && netns && argv.includes('--netns-type=path')) {
      try { mine = readlinkSync(`/proc/${p}/fd/5`) === netns; } catch { /* gone */ }
    }
    if (mine) out.push({ pid: Number(p), tool });
  }
  return out;
}

/**
 * Whether the keeper `keeperPid` holds a ready spare: a spare helper that wrote its ready byte (slirp4netns closes its
 * ready fd, 3, right after). The keeper reads the byte in its next loop turn: ask it something before relying on it.
 */
export function keeperHasReadySpare(keeperPid: number): boolean {
  let kids: number[];
  try { kids = readFileSync(`/proc/${keeperPid}/task/${keeperPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return false; }
  return kids.some((p) => {
    if (!isSpareHelper(p)) return false;
    try { readlinkSync(`/proc/${p}/fd/3`); return false; } catch { return true; }
  });
}

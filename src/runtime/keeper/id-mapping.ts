import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { logger } from '../../internal/debug.js';

const log = logger('keeper');
const run = promisify(execFile);

/** A range from /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  start: number;
  count: number;
}

/** One line of a uid_map/gid_map: `inside outside count`. */
export interface IdMapLine {
  inside: number;
  outside: number;
  count: number;
}

/** How the keeper's user namespace is mapped. */
export interface IdMapping {
  /** `identity` as root; `subid` via newuidmap/newgidmap; `single` maps only the caller's own id. */
  kind: 'identity' | 'subid' | 'single';
  uidMap: IdMapLine[];
  gidMap: IdMapLine[];
  /** For `single`: why no subordinate ids could be mapped. */
  reason?: string;
}

/**
 * Ranges for a user in an /etc/subuid-format text (`name:start:count`, name or numeric id), in file order.
 * @example parseSubIds('alice:100000:65536\n', { name: 'alice', id: 1000 }) // [{ start: 100000, count: 65536 }]
 */
export function parseSubIds(text: string, user: { name?: string; id: number }): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [who, start, count] = line.split(':');
    if (who === undefined || start === undefined || count === undefined) continue;
    if (who !== user.name && who !== String(user.id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && s >= 0 && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

/** A stable name for a mapping; unpacked layers are keyed by it (ownership differs per mapping). */
export function mappingKey(m: IdMapping): string {
  if (m.kind === 'identity') return 'root';
  if (m.kind === 'single') return `single-${m.uidMap[0]?.outside ?? 0}-${m.gidMap[0]?.outside ?? 0}`;
  const u = m.uidMap[1];
  const g = m.gidMap[1];
  const base = `subid-${m.uidMap[0]?.outside}-${u?.outside}-${u?.count}`;
  return g && u && (g.outside !== u.outside || g.count !== u.count) ? `${base}-g${g.outside}-${g.count}` : base;
}

function format(lines: IdMapLine[]): string {
  return lines.map((l) => `${l.inside} ${l.outside} ${l.count}\n`).join('');
}

/** Reads the caller's first subordinate ranges, or undefined when there are none. */
async function subRange(file: string, user: { name?: string; id: number }): Promise<SubIdRange | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return parseSubIds(text, user)[0];
}

/** Options for {@link mapUserNamespace} (tests point them at fixtures). */
export interface MapOptions {
  uid?: number;
  gid?: number;
  userName?: string;
  subuidFile?: string;
  subgidFile?: string;
  /** Called once when only a single-id mapping was possible. */
  onSingle?: (why: string) => void;
}

/**
 * Writes the id maps of process `pid`, which just unshared its user namespace.
 * Root gets an identity map; others `newgidmap`/`newuidmap` with their subordinate ranges
 * (`0 → own id`, `1.. → subids`), falling back to a single-id map (setgroups denied) as Podman does.
 */
export async function mapUserNamespace(pid: number, opts: MapOptions = {}): Promise<IdMapping> {
  const uid = opts.uid ?? process.getuid!();
  const gid = opts.gid ?? process.getgid!();
  if (uid === 0) {
    const full = [{ inside: 0, outside: 0, count: 4294967295 }];
    // gid_map before uid_map, as crun does: once uid_map is written we may lose the right to write gid_map.
    await writeFile(`/proc/${pid}/gid_map`, format(full));
    await writeFile(`/proc/${pid}/uid_map`, format(full));
    return { kind: 'identity', uidMap: full, gidMap: full };
  }
  let name = opts.userName;
  if (name === undefined) {
    try {
      name = userInfo().username;
    } catch {
      name = undefined;
    }
  }
  const subuid = await subRange(opts.subuidFile ?? '/etc/subuid', { name, id: uid });
  const subgid = await subRange(opts.subgidFile ?? '/etc/subgid', { name, id: uid });
  const reasons: string[] = [];
  let gidMap: IdMapLine[] | undefined;
  let uidMap: IdMapLine[] | undefined;
  if (subgid) {
    const lines = [{ inside: 0, outside: gid, count: 1 }, { inside: 1, outside: subgid.start, count: subgid.count }];
    try {
      await run('newgidmap', [String(pid), ...lines.flatMap((l) => [String(l.inside), String(l.outside), String(l.count)])]);
      gidMap = lines;
    } catch (e) {
      reasons.push(`newgidmap failed: ${(e as Error).message.split('\n')[0]}`);
    }
  } else {
    reasons.push(`no range for ${name ?? uid} in ${opts.subgidFile ?? '/etc/subgid'}`);
  }
  if (!gidMap) {
    gidMap = [{ inside: 0, outside: gid, count: 1 }];
    // An unprivileged writer must deny setgroups before writing gid_map (CVE-2014-8989).
    await writeFile(`/proc/${pid}/setgroups`, 'deny');
    await writeFile(`/proc/${pid}/gid_map`, format(gidMap));
  }
  if (subuid) {
    const lines = [{ inside: 0, outside: uid, count: 1 }, { inside: 1, outside: subuid.start, count: subuid.count }];
    try {
      await run('newuidmap', [String(pid), ...lines.flatMap((l) => [String(l.inside), String(l.outside), String(l.count)])]);
      uidMap = lines;
    } catch (e) {
      reasons.push(`newuidmap failed: ${(e as Error).message.split('\n')[0]}`);
    }
  } else {
    reasons.push(`no range for ${name ?? uid} in ${opts.subuidFile ?? '/etc/subuid'}`);
  }
  if (!uidMap) {
    uidMap = [{ inside: 0, outside: uid, count: 1 }];
    await writeFile(`/proc/${pid}/uid_map`, format(uidMap));
  }
  const kind = uidMap.length > 1 && gidMap.length > 1 ? 'subid' : 'single';
  if (kind === 'single') {
    const why = reasons.join('; ');
    log('single-id mapping: %s', why);
    opts.onSingle?.(why);
    return { kind, uidMap, gidMap, reason: why };
  }
  return { kind, uidMap, gidMap };
}

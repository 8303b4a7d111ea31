import { SlipwayError } from '../errors.js';

/** The numeric identity a container process runs as. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (from /etc/group membership), not including `gid`. */
  groups: number[];
  /** Home directory from /etc/passwd, `/` when unknown (as Docker does). */
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const ID_MAX = 0xfffffffe;

function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= ID_MAX ? n : undefined;
}

/** Parses /etc/passwd text; malformed lines are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

/** Parses /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

/**
 * Resolves a Docker `--user` value (`name`, `uid`, `uid:gid`, `name:group`, `uid:group`) against the
 * container's own /etc/passwd and /etc/group, as Docker and runc do: a numeric uid absent from passwd
 * runs with gid 0 (or the given group) and home `/`; a name that is absent is an error.
 */
export function resolveUser(spec: string | undefined, passwdText: string, groupText: string): ResolvedUser {
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  const value = spec === undefined || spec === '' ? 'root' : spec;
  const [userPart, groupPart, ...rest] = value.split(':');
  if (rest.length > 0 || userPart === '' || groupPart === '') {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid user ${JSON.stringify(value)}`, {
      hint: 'use "name", "uid", "uid:gid", "name:group" or "uid:group"',
    });
  }
  const numericUid = parseId(userPart!);
  const entry = numericUid !== undefined
    ? passwd.find((p) => p.uid === numericUid)
    : passwd.find((p) => p.name === userPart);
  if (!entry && numericUid === undefined) {
    throw new SlipwayError('ERR_CONTAINER_START', `unable to find user ${userPart}: no matching entries in the image's /etc/passwd`, {
      hint: 'use a numeric uid (for example withUser("1000:1000")) or a user that exists in the image',
    });
  }
  const uid = entry ? entry.uid : numericUid!;
  let gid = entry ? entry.gid : 0;
  if (groupPart !== undefined) {
    const numericGid = parseId(groupPart);
    if (numericGid !== undefined) gid = numericGid;
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) {
        throw new SlipwayError('ERR_CONTAINER_START', `unable to find group ${groupPart}: no matching entries in the image's /etc/group`, {
          hint: 'use a numeric gid or a group that exists in the image',
        });
      }
      gid = g.gid;
    }
  }
  // Supplementary groups come from membership by name, only when the user is known and no group was forced.
  const supplementary = entry && groupPart === undefined
    ? [...new Set(groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid))]
    : [];
  return { uid, gid, groups: supplementary, home: entry?.home ?? '/' };
}

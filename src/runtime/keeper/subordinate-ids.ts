/**
 * Rootless containers need subordinate ids: `/etc/subuid` and `/etc/subgid` ranges for the user and the setuid
 * `newuidmap`/`newgidmap` (package uidmap). Without them the keeper falls back to a single-id user namespace, where
 * only the user's own id exists; an image with files of other owners (most services: postgres, redis, nginx…) then
 * cannot be unpacked. This module says what is missing and the exact fix, before a pull spends time on layers.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { parseSubIds, type SubIdRange } from './id-mapping.js';

/** The range `useradd` gives new users on most distros, as one command for the current user. */
export const SUBID_FIX = 'sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER';
const UIDMAP_FIX = 'install uidmap (newuidmap/newgidmap): `sudo apt-get install uidmap` (Debian, Ubuntu), `sudo dnf install shadow-utils` (Fedora)';

/** Where {@link subordinateIdStatus} looks; tests point these at fixtures. */
export interface SubordinateIdSources {
  uid?: number;
  userName?: string;
  subuidFile?: string;
  subgidFile?: string;
  /** The search path for newuidmap/newgidmap. @defaultValue `$PATH` plus /usr/bin, /usr/sbin, /bin, /sbin */
  path?: string;
}

/** Whether rootless containers get a full id mapping, and if not, why and how to fix it. */
export interface SubordinateIdStatus {
  /** Root (identity mapping) or a user with ranges and the tools. */
  ok: boolean;
  user: string;
  uidRange?: SubIdRange;
  gidRange?: SubIdRange;
  /** What is missing, one sentence each. */
  problems: string[];
  /** The commands that fix it. */
  fix?: string;
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function onPath(name: string, path: string): boolean {
  for (const dir of new Set([...path.split(':').filter(Boolean), '/usr/bin', '/usr/sbin', '/bin', '/sbin'])) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Checks the subordinate id ranges and tools of the current (or given) user; synchronous and cheap. */
export function subordinateIdStatus(src: SubordinateIdSources = {}): SubordinateIdStatus {
  const uid = src.uid ?? process.getuid?.() ?? 0;
  let user = src.userName;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = String(uid);
    }
  }
  if (uid === 0) return { ok: true, user, problems: [] };
  const subuidFile = src.subuidFile ?? '/etc/subuid';
  const subgidFile = src.subgidFile ?? '/etc/subgid';
  const uidRange = parseSubIds(readOrEmpty(subuidFile), { name: user, id: uid })[0];
  const gidRange = parseSubIds(readOrEmpty(subgidFile), { name: user, id: uid })[0];
  const problems: string[] = [];
  if (!uidRange) problems.push(`${user} has no range in ${subuidFile}`);
  if (!gidRange) problems.push(`${user} has no range in ${subgidFile}`);
  const path = src.path ?? process.env.PATH ?? '';
  const tools = ['newuidmap', 'newgidmap'].filter((t) => !onPath(t, path));
  if (tools.length) problems.push(`${tools.join(' and ')} ${tools.length > 1 ? 'are' : 'is'} not installed`);
  const fixes = [...(!uidRange || !gidRange ? [`\`${SUBID_FIX}\``] : []), ...(tools.length ? [UIDMAP_FIX] : [])];
  return { ok: problems.length === 0, user, ...(uidRange ? { uidRange } : {}), ...(gidRange ? { gidRange } : {}), problems, ...(fixes.length ? { fix: fixes.join('; then ') } : {}) };
}

/**
 * The error for an image whose files belong to ids a single-id user namespace lacks (before: `chown …: EINVAL`, no hint).
 * @param reason - why only a single-id mapping was possible (from the mapping step)
 */
export function singleMappingError(reason: string | undefined, owner: { path: string; uid: number; gid: number }): SlipwayError {
  const status = subordinateIdStatus();
  const why = status.problems.length ? status.problems.join('; ') : reason ?? 'the subordinate id mapping failed';
  return new SlipwayError('ERR_RUNTIME_UNAVAILABLE',
    `rootless slipway has only a single-id user namespace (${why}), and this image has files of other owners (${owner.path} belongs to ${owner.uid}:${owner.gid}), which it cannot represent`, {
      hint: `give your user subordinate ids: ${status.fix ?? `\`${SUBID_FIX}\``}; then start again (a new process maps the namespace again). In short: install uidmap (newuidmap/newgidmap) and give your user a range in /etc/subuid and /etc/subgid`,
    });
}

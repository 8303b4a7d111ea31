// Detection of what a rootless user lacks for a full user namespace mapping, on fake /etc/subuid files and PATHs.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SUBID_FIX, singleMappingError, subordinateIdStatus } from '../../../src/runtime/keeper/subordinate-ids.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-subids-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
function tools(...names: string[]): string {
  const d = join(dir, `bin-${names.join('-') || 'none'}`);
  mkdirSync(d, { recursive: true });
  for (const n of names) {
    writeFileSync(join(d, n), '#!/bin/sh\n');
    chmodSync(join(d, n), 0o755);
  }
  return d;
}

describe('subordinateIdStatus', () => {
  const both = tools('newuidmap', 'newgidmap');
  it('is fine for root whatever the files say', () => {
    expect(subordinateIdStatus({ uid: 0, userName: 'root', subuidFile: '/nonexistent', subgidFile: '/nonexistent', path: '' })).toMatchObject({ ok: true, problems: [] });
  });

  it('finds the ranges by name or uid', () => {
    const s = subordinateIdStatus({ uid: 1000, userName: 'alice', subuidFile: file('subuid', 'bob:200000:65536\nalice:100000:65536\n'), subgidFile: file('subgid', '1000:300000:65536\n'), path: both });
    expect(s).toEqual({ ok: true, user: 'alice', uidRange: { start: 100000, count: 65536 }, gidRange: { start: 300000, count: 65536 }, problems: [] });
  });

  it('without a range says which file lacks it and gives the exact usermod command', () => {
    const s = subordinateIdStatus({ uid: 1000, userName: 'alice', subuidFile: file('subuid-none', 'bob:200000:65536\n'), subgidFile: file('subgid-ok', 'alice:100000:65536\n'), path: both });
    expect(s.ok).toBe(false);
    expect(s.problems).toEqual([`alice has no range in ${join(dir, 'subuid-none')}`]);
    expect(s.fix).toBe('`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`');
    expect(SUBID_FIX).toBe('sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER');
  });

  it('without newuidmap/newgidmap says to install uidmap', () => {
    const s = subordinateIdStatus({ uid: 1000, userName: 'alice', subuidFile: file('su', 'alice:100000:65536\n'), subgidFile: file('sg', 'alice:100000:65536\n'), path: tools('newgidmap') });
    // /usr/bin is always searched too: only assert when this machine lacks the tool there.
    if (s.ok) return;
    expect(s.problems).toEqual(['newuidmap is not installed']);
    expect(s.fix).toContain('install uidmap (newuidmap/newgidmap)');
  });

  it('the single-mapping error names the owner it cannot represent and the fix', () => {
    const e = singleMappingError('no range for alice in /etc/subuid', { path: 'var/lib/redis', uid: 999, gid: 999 });
    expect(e.code).toBe('ERR_RUNTIME_UNAVAILABLE');
    expect(e.shortMessage).toContain('var/lib/redis belongs to 999:999');
    expect(e.hint).toContain('usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER');
    expect(e.hint).toContain('install uidmap (newuidmap/newgidmap) and give your user a range in /etc/subuid and /etc/subgid');
  });
});

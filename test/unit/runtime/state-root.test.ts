import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { stateRoot } from '../../../src/runtime/keeper/state-root.js';

const uid = process.getuid!();
const made: string[] = [];
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'slipway-state-root-'));
  chmodSync(d, 0o1777); // like /tmp: everyone may create entries, the sticky bit keeps them from renaming ours
  made.push(d);
  return d;
}
afterEach(() => {
  made.length = 0;
});

function errorOf(fn: () => unknown): SlipwayError {
  try {
    fn();
  } catch (e) {
    if (SlipwayError.is(e)) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

describe('stateRoot', () => {
  // XDG_RUNTIME_DIR points at a shared, sticky directory here; the same code guards $TMPDIR/slipway-<uid>.
  it('refuses a symlink planted at the state root, naming the path and the fix, and writes nothing through it', () => {
    const shared = scratch();
    const victim = mkdtempSync(join(tmpdir(), 'slipway-victim-'));
    symlinkSync(victim, join(shared, 'slipway'));
    const err = errorOf(() => stateRoot({ XDG_RUNTIME_DIR: shared }));
    expect(err.code).toBe('ERR_RUNTIME');
    expect(err.message).toContain(join(shared, 'slipway'));
    expect(err.message).toMatch(/symbolic link/);
    expect(err.hint).toMatch(/rm .*slipway|XDG_RUNTIME_DIR/);
    expect(readdirSync(victim)).toEqual([]);
    expect(statSync(victim).mode & 0o777).toBe(0o700); // mkdtemp's mode, not chmod'ed through the link
  });

  it('refuses a dangling symlink instead of creating its target', () => {
    const shared = scratch();
    const target = join(tmpdir(), `slipway-dangling-${process.pid}-${Date.now()}`);
    symlinkSync(target, join(shared, 'slipway'));
    expect(errorOf(() => stateRoot({ XDG_RUNTIME_DIR: shared })).message).toMatch(/symbolic link/);
    expect(existsSync(target)).toBe(false);
  });

  it('creates the directory 0700 and tightens an existing one of ours', () => {
    const shared = scratch();
    expect(stateRoot({ XDG_RUNTIME_DIR: shared })).toBe(join(shared, 'slipway'));
    expect(lstatSync(join(shared, 'slipway')).mode & 0o7777).toBe(0o700);
    chmodSync(join(shared, 'slipway'), 0o777);
    stateRoot({ XDG_RUNTIME_DIR: shared });
    expect(lstatSync(join(shared, 'slipway')).mode & 0o7777).toBe(0o700);
  });

  it('refuses a directory in a world-writable parent without the sticky bit', () => {
    const shared = scratch();
    chmodSync(shared, 0o777);
    expect(errorOf(() => stateRoot({ XDG_RUNTIME_DIR: shared })).message).toMatch(/writable by every user and not sticky/);
  });

  it.skipIf(uid !== 0)('refuses a directory another user owns (as root)', () => {
    const shared = scratch();
    mkdirSync(join(shared, 'slipway'), { mode: 0o700 });
    chownSync(join(shared, 'slipway'), 65534, 65534);
    expect(errorOf(() => stateRoot({ XDG_RUNTIME_DIR: shared })).message).toMatch(/owned by uid 65534/);
  });

  it.skipIf(uid === 0)('uses $TMPDIR/slipway-<uid> without XDG_RUNTIME_DIR and refuses a symlink there', () => {
    const fakeTmp = scratch();
    expect(stateRoot({ TMPDIR: fakeTmp })).toBe(join(fakeTmp, `slipway-${uid}`));
    const other = scratch();
    const victim = mkdtempSync(join(tmpdir(), 'slipway-victim-'));
    symlinkSync(victim, join(other, `slipway-${uid}`));
    expect(errorOf(() => stateRoot({ TMPDIR: other })).message).toMatch(/symbolic link/);
  });
});

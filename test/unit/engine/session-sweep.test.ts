/**
 * The engine session's sweep of dead sessions' log dirs (`slipway-engine-<pid>-*` in the temp dir) removes only this
 * user's own directories. The attacker is another local user: a dir of theirs under that name, with a dead pid, was
 * removed recursively by a root test run, and a recursive removal of a tree its owner can change while it runs is
 * theirs to steer (a subdirectory swapped for a link to /etc between lstat and readdir). A link of that name is not
 * followed either.
 */
import { chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { sweepStaleDirs } from '../../../src/runtime/engine/session.js';

const DEAD = 999_999_999; // above any pid_max: no process has it

const tmps: string[] = [];
afterEach(() => {
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'slipway-sweep-'));
  tmps.push(d);
  return d;
}

it('removes a dead session dir of our own, keeps a live one', () => {
  const tmp = scratch();
  mkdirSync(join(tmp, `slipway-engine-${DEAD}-a`));
  writeFileSync(join(tmp, `slipway-engine-${DEAD}-a`, 'ctr.log'), 'x');
  mkdirSync(join(tmp, `slipway-engine-${process.ppid}-b`));
  sweepStaleDirs(tmp);
  expect(existsSync(join(tmp, `slipway-engine-${DEAD}-a`))).toBe(false);
  expect(existsSync(join(tmp, `slipway-engine-${process.ppid}-b`))).toBe(true);
});

it('does not follow a link named like a dead session dir', () => {
  const tmp = scratch();
  const victim = join(scratch(), 'data');
  mkdirSync(victim);
  writeFileSync(join(victim, 'keep'), 'x');
  symlinkSync(victim, join(tmp, `slipway-engine-${DEAD}-link`));
  sweepStaleDirs(tmp);
  expect(existsSync(join(victim, 'keep'))).toBe(true);
});

it.skipIf(process.getuid?.() !== 0)('as root, leaves another user\'s dir of that name alone', () => {
  const tmp = scratch();
  const theirs = join(tmp, `slipway-engine-${DEAD}-planted`);
  mkdirSync(join(theirs, 'sub'), { recursive: true });
  writeFileSync(join(theirs, 'sub', 'their-file'), 'x');
  for (const p of [theirs, join(theirs, 'sub'), join(theirs, 'sub', 'their-file')]) chownSync(p, 65534, 65534);
  symlinkSync('/nonexistent', join(theirs, 'link'));
  lchownSync(join(theirs, 'link'), 65534, 65534);
  sweepStaleDirs(tmp);
  expect(existsSync(join(theirs, 'sub', 'their-file'))).toBe(true);
});

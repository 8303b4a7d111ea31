// The store flags tmp/ TOPDIR only on ext4 without a journal (where it made a pull after a large delete 3.6x faster)
// and never on a journaled one (where it made fresh-disk pulls 1.16-1.29x slower). The answer is read from the
// kernel's listings; here they are staged for a real directory's device.
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isExt4WithoutJournal } from '../../../src/image/ext4-journal.js';

const tmps: string[] = [];
afterEach(() => {
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Fake /sys and /proc that list `dir`'s device as `name`, an ext4 with `jbd2` entries. */
function listings(dir: string, name: string, opts: { ext4: boolean; jbd2: string[] }): { sys: string; proc: string } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'slipway-ext4-'));
  tmps.push(base);
  const dev = BigInt(statSync(dir).dev);
  const major = Number((dev >> 8n) & 0xfffn) | Number((dev >> 32n) & ~0xfffn);
  const minor = Number(dev & 0xffn) | Number((dev >> 12n) & ~0xffn);
  const sys = path.join(base, 'sys');
  const proc = path.join(base, 'proc');
  mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
  symlinkSync(`../../devices/virtual/block/${name}`, path.join(sys, 'dev/block', `${major}:${minor}`));
  mkdirSync(path.join(proc, 'fs/ext4'), { recursive: true });
  mkdirSync(path.join(proc, 'fs/jbd2'), { recursive: true });
  if (opts.ext4) writeFileSync(path.join(proc, 'fs/ext4', name), '');
  for (const j of opts.jbd2) mkdirSync(path.join(proc, 'fs/jbd2', j));
  return { sys, proc };
}

describe('isExt4WithoutJournal', () => {
  const dir = os.tmpdir();

  it('is true for an ext4 whose device has no jbd2 journal', () => {
    expect(isExt4WithoutJournal(dir, listings(dir, 'vda', { ext4: true, jbd2: [] }))).toBe(true);
    // Another device's journal, even one whose name starts the same, is not this one's.
    expect(isExt4WithoutJournal(dir, listings(dir, 'vda', { ext4: true, jbd2: ['vda1-8', 'loop0-8'] }))).toBe(true);
  });

  it('is false with a journal, on another filesystem, or without a block device', () => {
    expect(isExt4WithoutJournal(dir, listings(dir, 'loop3', { ext4: true, jbd2: ['loop3-8'] }))).toBe(false);
    expect(isExt4WithoutJournal(dir, listings(dir, 'dm-0', { ext4: true, jbd2: ['dm-0-8'] }))).toBe(false);
    expect(isExt4WithoutJournal(dir, listings(dir, 'sdb1', { ext4: false, jbd2: [] }))).toBe(false);
    const none = mkdtempSync(path.join(os.tmpdir(), 'slipway-ext4-none-'));
    tmps.push(none);
    expect(isExt4WithoutJournal(dir, { sys: none, proc: none })).toBe(false);
    expect(isExt4WithoutJournal(path.join(dir, 'no-such-dir-here'), listings(dir, 'vda', { ext4: true, jbd2: [] }))).toBe(false);
  });
});

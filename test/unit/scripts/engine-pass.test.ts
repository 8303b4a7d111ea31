// The engine pass (scripts/test-engine.sh) runs every integration file except those scripts/engine-pass-exclusions.txt
// names. A stale or reason-less line there would silently shrink the pass; these checks keep the list honest.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const lines = readFileSync(join(ROOT, 'scripts/engine-pass-exclusions.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'));

describe('engine pass exclusions', () => {
  it('every line names an existing integration file and says why, as native: or pending:', () => {
    const bad = lines.filter((l) => {
      const m = /^(test\/integration\/\S+\.test\.ts)\s+(native|pending): \S.*$/.exec(l);
      return !m || !existsSync(join(ROOT, m[1]!));
    });
    expect(bad).toEqual([]);
  });

  it('names each file once', () => {
    const paths = lines.map((l) => l.split(/\s+/)[0]);
    expect(paths.filter((p, i) => paths.indexOf(p) !== i)).toEqual([]);
  });
});

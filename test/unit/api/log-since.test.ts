import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { sinceNextMillisecond } from '../../../src/api/log-since.js';
import { readLogLines } from '../../../src/runtime/log-reader.js';

async function texts(path: string, since: Date): Promise<string[]> {
  const out: string[] = [];
  for await (const l of readLogLines(path, { since })) out.push(l.text);
  return out;
}

it('a wait from now on skips the line logged in the same millisecond (the old process\'s last line before a restart)', async () => {
  const p = join(await mkdtemp(join(tmpdir(), 'since-')), 'ctr.log');
  // The old process logged "ready" at .500123456; restart() was called in that same millisecond (.500).
  await writeFile(p, '2026-12-04T21:00:00.500123456Z stdout F ready\n2026-12-04T21:00:00.501000001Z stdout F booting\n');
  const now = Date.parse('2026-12-04T21:00:00.500Z');
  expect(await texts(p, new Date(now))).toEqual(['ready', 'booting']); // what `since: new Date()` let through
  expect(await texts(p, sinceNextMillisecond(now))).toEqual(['booting']);
});

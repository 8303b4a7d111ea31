import { describe, expect, it } from 'vitest';
import { forEachLine } from '../../../src/engine/lines.js';

async function* chunks(...parts: (Buffer | string)[]): AsyncGenerator<Buffer | string> {
  for (const p of parts) yield p;
}

async function collect(...parts: (Buffer | string)[]): Promise<string[]> {
  const out: string[] = [];
  await forEachLine(chunks(...parts), (l) => out.push(l));
  return out;
}

describe('forEachLine (the engine JSON-lines streams)', () => {
  it('keeps a UTF-8 character the transport cut between two chunks', async () => {
    const line = Buffer.from('{"status":"Téléchargement ✓"}\n');
    const cut = line.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
    expect(await collect(line.subarray(0, cut), line.subarray(cut))).toEqual(['{"status":"Téléchargement ✓"}', '']);
  });

  it('delivers lines split anywhere, and a last line without its newline', async () => {
    expect(await collect('{"a":', '1}\n{"b"', ':2}\n{"error":"x"}')).toEqual(['{"a":1}', '{"b":2}', '{"error":"x"}']);
  });

  it('stops reading at what the callback throws', async () => {
    const seen: string[] = [];
    const run = forEachLine(chunks('one\ntwo\nthree\n'), (l) => {
      seen.push(l);
      if (l === 'two') throw new Error('engine error line');
    });
    await expect(run).rejects.toThrow('engine error line');
    expect(seen).toEqual(['one', 'two']);
  });
});

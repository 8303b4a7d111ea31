import { describe, expect, it } from 'vitest';
import { ProgressView, formatBytes } from '../../../src/cli/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { out: { isTTY, columns: 100, write: (s: string) => chunks.push(s) }, chunks };
}

describe('pull progress', () => {
  it('prints one plain line per finished layer when not a TTY', () => {
    const { out, chunks } = sink(false);
    const v = new ProgressView(out, 'redis:7');
    v.update({ layer: `sha256:${'a'.repeat(64)}`, current: 10, total: 2_000_000 });
    v.update({ layer: `sha256:${'b'.repeat(64)}`, current: 500, total: 500 });
    v.update({ layer: `sha256:${'a'.repeat(64)}`, current: 2_000_000, total: 2_000_000 });
    v.update({ layer: `sha256:${'a'.repeat(64)}`, current: 2_000_000, total: 2_000_000 });
    v.finish();
    expect(chunks).toEqual([`${'b'.repeat(12)}: 500 B done\n`, `${'a'.repeat(12)}: 2.0 MB done\n`]);
  });

  it('redraws one line with \\r on a TTY, throttled, and ends it with a newline', () => {
    const { out, chunks } = sink(true);
    let now = 0;
    const v = new ProgressView(out, 'redis:7', { now: () => now, interval: 100 });
    v.update({ layer: 'sha256:1', current: 0, total: 1000 });
    v.update({ layer: 'sha256:1', current: 100, total: 1000 }); // throttled
    now = 150;
    v.update({ layer: 'sha256:2', current: 250, total: 1000 });
    v.finish();
    expect(chunks.every((c) => c === '\n' || c.startsWith('\r'))).toBe(true);
    expect(chunks).toHaveLength(4);
    expect(chunks[1]).toContain('350 B/2.0 kB 0/2 layers');
    expect(chunks.at(-1)).toBe('\n');
    expect(v.line(100)).toMatch(/^redis:7 \[#{5}\.{25}\] 350 B\/2\.0 kB 0\/2 layers$/);
  });

  it('formats sizes in powers of 1000', () => {
    expect([999, 1000, 12_345, 1_500_000_000].map(formatBytes)).toEqual(['999 B', '1.0 kB', '12 kB', '1.5 GB']);
  });
});

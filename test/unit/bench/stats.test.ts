// bench/lib/stats.mjs: the pairing that scenario 12's cold comparison rests on (samples taken back to back, order
// swapped every round, a ratio per round).
import { describe, expect, it } from 'vitest';

const STATS = '../../../bench/lib/stats.mjs';
// A plain string: the bench is JavaScript without declarations.
const { interleave, pairRatios } = await import(STATS as string);

const subject = (name: string, order: string[], values: number[]) => ({
  name,
  run: async (i: number) => { order.push(`${name}${i}`); return values[i]!; },
});

describe('bench interleave', () => {
  it('swaps the order every round when asked, and settles before each sample', async () => {
    const order: string[] = [];
    const before: string[] = [];
    const [a, b] = await interleave([subject('a', order, [1, 2, 3, 4]), subject('b', order, [5, 6, 7, 8])], {
      runs: 3, warmup: 1, alternate: true, before: async (i: number, s: { name: string }) => { before.push(`${s.name}${i}`); },
    });
    expect(order).toEqual(['a0', 'b0', 'b1', 'a1', 'a2', 'b2', 'b3', 'a3']);
    expect(before).toEqual(order);
    expect(a.samples).toEqual([2, 3, 4]);
    expect(a.rounds).toEqual([1, 2, 3]);
    expect(b.samples).toEqual([6, 7, 8]);
  });

  it('keeps the order A B … without alternate', async () => {
    const order: string[] = [];
    await interleave([subject('a', order, [1, 2]), subject('b', order, [3, 4])], { runs: 2, warmup: 0 });
    expect(order).toEqual(['a0', 'b0', 'a1', 'b1']);
  });
});

describe('bench pairRatios', () => {
  it('divides the samples of the same round, skipping rounds one side lacks', () => {
    expect(pairRatios({ samples: [10, 20, 30], rounds: [1, 2, 3] }, { samples: [5, 40], rounds: [1, 3] })).toEqual([2, 0.75]);
  });

  it('pairs by position when no rounds were kept', () => {
    expect(pairRatios({ samples: [3, 4] }, { samples: [2, 8] })).toEqual([1.5, 0.5]);
  });
});

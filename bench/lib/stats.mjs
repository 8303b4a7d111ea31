// Summary statistics for benchmark samples. Percentiles use the nearest-rank method on the sorted
// samples, so every reported number is one that was actually measured.

/** @param {number[]} xs */
export function sorted(xs) {
  return [...xs].sort((a, b) => a - b);
}

/** Nearest-rank percentile (p in 0..100) of the samples; NaN for none. */
export function percentile(xs, p) {
  if (xs.length === 0) return Number.NaN;
  const s = sorted(xs);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1];
}

/** Median: the mean of the two middle samples for an even count. */
export function median(xs) {
  if (xs.length === 0) return Number.NaN;
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

/** @returns {{n: number, median: number, p90: number, min: number, max: number, mean: number}} */
export function summarize(xs) {
  const s = sorted(xs);
  return { n: s.length, median: median(s), p90: percentile(s, 90), min: s[0] ?? Number.NaN, max: s.at(-1) ?? Number.NaN, mean: mean(s) };
}

/**
 * Runs the subjects in interleaved order (A B C A B C …) so that drift in the machine's state (page
 * cache, thermal, a noisy neighbour) hits every subject alike; the first `warmup` rounds are discarded.
 * Each subject's `run(i)` returns the measured value (it times only what should be timed). A subject
 * that throws stops being run; its error is kept on `subject.error`.
 * `alternate`: every other round runs the subjects in reverse (A B, B A, A B…), so neither is always the one that runs
 * right after the other's leftovers (writeback, freed memory). `before(i, subject)`: awaited before each sample, untimed
 * (a disk settle). Each sample's round is kept (`subject.rounds`), so pairs can be matched round by round.
 * @param {{name: string, run: (i: number) => Promise<number>, samples?: number[], rounds?: number[], error?: unknown}[]} subjects
 * @param {{runs: number, warmup?: number, log?: (s: string) => void, alternate?: boolean,
 *   before?: (i: number, subject: {name: string}) => Promise<unknown>}} opts
 */
export async function interleave(subjects, { runs, warmup = 1, log = () => {}, alternate = false, before }) {
  for (const s of subjects) { s.samples = []; s.rounds = []; }
  for (let i = 0; i < warmup + runs; i++) {
    const order = alternate && i % 2 ? [...subjects].reverse() : subjects;
    for (const s of order) {
      if (s.error) continue;
      try {
        if (before) await before(i, s);
        const v = await s.run(i);
        if (i >= warmup) { s.samples.push(v); s.rounds.push(i); }
        log(`  ${s.name} #${i}${i < warmup ? ' (warm-up)' : ''}: ${fmt(v)}`);
      } catch (e) {
        s.error = e;
        log(`  ${s.name} #${i}: ${e?.message ?? e}`);
      }
    }
  }
  return subjects;
}

/**
 * Per-pair ratios a/b of two subjects measured by `interleave`: one per round both have a sample of (the two samples
 * taken back to back), so the machine's drift between rounds cancels out of each ratio.
 * @param {{samples: number[], rounds?: number[]}} a
 * @param {{samples: number[], rounds?: number[]}} b
 * @returns {number[]}
 */
export function pairRatios(a, b) {
  const ra = a.rounds ?? a.samples.map((_, i) => i);
  const rb = b.rounds ?? b.samples.map((_, i) => i);
  const out = [];
  ra.forEach((round, i) => {
    const j = rb.indexOf(round);
    if (j >= 0 && b.samples[j] !== 0) out.push(a.samples[i] / b.samples[j]);
  });
  return out;
}

/** Formats a number with 3 significant digits (or as an integer when large). */
export function fmt(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  const a = Math.abs(v);
  if (Number.isInteger(v)) return v.toString();
  if (a >= 1000) return Math.round(v).toString();
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

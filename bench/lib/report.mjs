// Turns measured subjects into result rows, and rows into the one table the bench prints.
import { fmt, summarize } from './stats.mjs';
import { Skip } from './proc.mjs';

/**
 * One row per subject of one measurement. The baseline (ratio 1) is the subject named `slipway`.
 * @param {string} scenario  e.g. '1 pull'
 * @param {string} metric    what was measured, e.g. 'cold pull+unpack postgres:15'
 * @param {string} unit      'ms', 'MB/s', 'µs', 'KiB'…
 * @param {{name: string, samples?: number[], error?: unknown, note?: string}[]} subjects
 */
export function rowsOf(scenario, metric, unit, subjects) {
  return subjects.map((s) => {
    const row = { scenario, metric, subject: s.name, unit, samples: s.samples ?? [], note: s.note };
    if (s.error) {
      const msg = String(s.error?.message ?? s.error).split('\n')[0];
      if (s.error instanceof Skip) row.skipped = msg;
      else if (s.name.startsWith('slipway')) row.skipped = `slipway cannot do this yet: ${s.error.code ? `${s.error.code}: ` : ''}${msg}`;
      else row.failed = msg;
      if (s.samples?.length) row.partial = true;
    }
    if (row.samples.length) Object.assign(row, summarize(row.samples));
    return row;
  });
}

/** A row that says why a whole measurement was not made. */
export function skippedRow(scenario, metric, subject, reason) {
  return { scenario, metric, subject, unit: '', samples: [], skipped: reason };
}

/** ratio = subject median / slipway median of the same scenario and metric. */
export function addRatios(rows) {
  for (const r of rows) {
    const base = rows.find((b) => b.scenario === r.scenario && b.metric === r.metric && b.subject === 'slipway' && b.n);
    r.ratio = base && r.n && base.median !== 0 ? r.median / base.median : undefined;
  }
  return rows;
}

export function formatTable(rows) {
  const head = ['scenario', 'metric', 'subject', 'N', 'median', 'p90', 'min', 'max', 'unit', 'ratio'];
  const body = rows.map((r) => {
    if (!r.n) {
      const why = r.skipped ? `skipped: ${r.skipped}` : `failed: ${r.failed ?? 'no samples'}`;
      return [r.scenario, r.metric, r.subject, '0', why, '', '', '', '', ''];
    }
    const flag = r.partial ? ` (partial: ${r.skipped ?? r.failed})` : '';
    return [r.scenario, r.metric, r.subject + flag, String(r.n), fmt(r.median), fmt(r.p90), fmt(r.min), fmt(r.max), r.unit,
      r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`];
  });
  // Markdown, so the same text goes into bench/RESULTS.md and the README.
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i].length > 70 ? 0 : b[i].length))));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

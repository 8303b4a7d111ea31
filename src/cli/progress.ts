/**
 * Pull progress for the terminal: one bar redrawn in place with `\r` on a TTY, plain lines (one per
 * finished layer) otherwise, so CI logs stay readable.
 */
import type { PullProgress } from '../image/pull.js';

/** Where progress goes: a stream such as `process.stderr`. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** Renders {@link PullProgress} events. */
export class ProgressView {
  readonly #out: ProgressOutput;
  readonly #layers = new Map<string, { current: number; total: number; done: boolean }>();
  readonly #now: () => number;
  readonly #interval: number;
  #lastDraw = -Infinity;
  #drawn = false;

  /** @param opts.interval - minimum ms between TTY redraws (default 100) */
  constructor(out: ProgressOutput, readonly label: string, opts: { now?: () => number; interval?: number } = {}) {
    this.#out = out;
    this.#now = opts.now ?? Date.now;
    this.#interval = opts.interval ?? 100;
  }

  /** Feeds one event; the `onProgress` of `pull()`. */
  update(e: PullProgress): void {
    let l = this.#layers.get(e.layer);
    if (!l) this.#layers.set(e.layer, (l = { current: 0, total: e.total, done: false }));
    l.current = Math.max(l.current, e.current);
    l.total = e.total;
    const finished = !l.done && l.total > 0 && l.current >= l.total;
    if (finished) l.done = true;
    if (this.#out.isTTY) {
      const now = this.#now();
      if (finished || now - this.#lastDraw >= this.#interval) this.#draw(now);
    } else if (finished) {
      this.#out.write(`${shortDigest(e.layer)}: ${formatBytes(l.total)} done\n`);
    }
  }

  /** Ends the bar line (TTY) so later output starts on a fresh line. */
  finish(): void {
    if (this.#out.isTTY && this.#drawn) {
      this.#draw(this.#now());
      this.#out.write('\n');
      this.#drawn = false;
    }
  }

  /** The current bar line, without `\r`. Exposed for tests. */
  line(width = this.#out.columns || 80): string {
    let current = 0;
    let total = 0;
    let done = 0;
    for (const l of this.#layers.values()) {
      current += Math.min(l.current, l.total);
      total += l.total;
      if (l.done) done++;
    }
    const stats = ` ${formatBytes(current)}/${formatBytes(total)} ${done}/${this.#layers.size} layers`;
    const head = this.label.length > 40 ? `…${this.label.slice(-39)}` : this.label;
    const barWidth = Math.max(0, Math.min(30, width - head.length - stats.length - 4));
    const filled = total > 0 ? Math.round((current / total) * barWidth) : 0;
    const bar = barWidth > 0 ? ` [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]` : '';
    return `${head}${bar}${stats}`.slice(0, Math.max(1, width - 1));
  }

  #draw(now: number): void {
    this.#lastDraw = now;
    this.#drawn = true;
    this.#out.write(`\r${this.line()}\x1b[K`);
  }
}

/** `sha256:0123456789ab…` → `0123456789ab`. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** Bytes in B, kB, MB or GB (powers of 1000, as registries report). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

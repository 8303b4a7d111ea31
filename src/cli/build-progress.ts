/**
 * Build progress for the terminal. On a TTY, a compact live view like BuildKit's: finished steps are printed once
 * (`=> CACHED [0 2/5] COPY …  0.0s`) and stay in the scrollback; below them a live region, redrawn in place, holds a
 * header (`[+] Building 3.1s (4/9)`), the running step with its time, and the last line it printed. Elsewhere plain
 * lines: one per step (`[0 4/5] RUN …`, `(cached)` when reused), its output indented, `done in` when it ran.
 */
import type { BuildProgress } from '../build/builder.js';
import type { ProgressOutput } from './progress.js';

interface Running { key: string; label: string; started: number; last?: string }

/** Renders {@link BuildProgress} events on a terminal or as plain lines. */
export class BuildProgressView {
  readonly #out: ProgressOutput;
  readonly #now: () => number;
  readonly #started: number;
  readonly #running = new Map<string, Running>();
  #done = 0;
  #total = 0;
  readonly #totals = new Map<string, number>();
  /** Lines of the live region on screen now. */
  #live = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param opts.interval - ms between redraws of the running step's time on a TTY (default 100; 0: only on events) */
  constructor(out: ProgressOutput, opts: { now?: () => number; interval?: number } = {}) {
    this.#out = out;
    this.#now = opts.now ?? Date.now;
    this.#started = this.#now();
    const interval = opts.interval ?? 100;
    if (out.isTTY && interval > 0) {
      this.#timer = setInterval(() => this.#redraw(), interval);
      this.#timer.unref?.();
    }
  }

  /** Feeds one event: the `onProgress` of a build. */
  update(e: BuildProgress): void {
    const key = `${e.stage}\0${e.step}`;
    if (e.type !== 'output') {
      this.#totals.set(e.stage, e.total);
      this.#total = [...this.#totals.values()].reduce((a, b) => a + b, 0);
    }
    const label = e.type === 'output' ? this.#running.get(key)?.label ?? `[${e.stage} ${e.step}]` : `[${e.stage} ${e.step}/${e.total}] ${e.instruction}`;
    if (!this.#out.isTTY) {
      if (e.type === 'step') this.#out.write(`${label}${e.cached ? ' (cached)' : ''}\n`);
      else if (e.type === 'done') this.#out.write(`[${e.stage} ${e.step}/${e.total}] done in ${seconds(e.durationMs)}\n`);
      else this.#out.write(`  ${e.line}\n`);
      return;
    }
    if (e.type === 'step' && e.cached) {
      this.#done++;
      this.#print(`=> ${/^FROM /i.test(e.instruction) && e.step === 1 ? '' : 'CACHED '}${label}`, 0);
    } else if (e.type === 'step') {
      this.#running.set(key, { key, label, started: this.#now() });
      this.#redraw();
    } else if (e.type === 'done') {
      this.#running.delete(key);
      this.#done++;
      this.#print(`=> ${label}`, e.durationMs);
    } else {
      const r = this.#running.get(key);
      if (r) r.last = e.line;
      this.#redraw();
    }
  }

  /** Ends the view: the last header (`FINISHED`, or `ERROR` with the step that was running) stays on screen. */
  finish(ok: boolean): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#out.isTTY) return;
    const failed = [...this.#running.values()];
    this.#clear();
    for (const r of failed) {
      this.#out.write(`${fit(`=> ERROR ${r.label}`, this.#width() - 7)} ${seconds(this.#now() - r.started).padStart(6)}\n`);
      if (r.last) this.#out.write(`${fit(`=> => ${r.last}`, this.#width())}\n`);
    }
    this.#running.clear();
    this.#out.write(`${this.#header()} ${ok ? 'FINISHED' : 'ERROR'}\n`);
  }

  #width(): number {
    return Math.max(20, (this.#out.columns || 80) - 1);
  }

  #header(): string {
    return `[+] Building ${seconds(this.#now() - this.#started)} (${this.#done}/${this.#total})`;
  }

  /** A finished step, printed above the live region (which is drawn again below it). */
  #print(text: string, ms: number): void {
    this.#clear();
    this.#out.write(`${fit(text, this.#width() - 7)} ${seconds(ms).padStart(6)}\n`);
    this.#redraw();
  }

  #clear(): void {
    if (this.#live > 0) this.#out.write(`\x1b[${this.#live}A\r\x1b[J`);
    this.#live = 0;
  }

  #redraw(): void {
    const w = this.#width();
    const lines = [this.#header()];
    for (const r of this.#running.values()) {
      lines.push(`${fit(`=> ${r.label}`, w - 7)} ${seconds(this.#now() - r.started).padStart(6)}`);
      if (r.last !== undefined) lines.push(fit(`=> => ${r.last}`, w));
    }
    this.#clear();
    this.#out.write(lines.map((l) => `${l}\x1b[K\n`).join(''));
    this.#live = lines.length;
  }
}

/** Cut to `width` columns (an ellipsis marks the cut), control characters dropped. */
function fit(s: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]/g, '');
  return clean.length > width ? `${clean.slice(0, Math.max(0, width - 1))}…` : clean.padEnd(width);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

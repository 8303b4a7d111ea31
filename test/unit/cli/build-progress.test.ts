import { describe, expect, it } from 'vitest';
import { BuildProgressView } from '../../../src/cli/build-progress.js';

/** A minimal terminal: applies `\n`, `\r`, cursor up (`ESC[nA`), erase below (`ESC[J`) and to end of line (`ESC[K`). */
class Screen {
  lines: string[] = [''];
  row = 0;
  col = 0;
  readonly isTTY = true;
  readonly columns = 60;
  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\x1b') {
        const m = /^\x1b\[(\d*)([AJK])/.exec(s.slice(i))!;
        if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
        else if (m[2] === 'J') this.lines.splice(this.row + 1), (this.lines[this.row] = this.lines[this.row]!.slice(0, this.col));
        else this.lines[this.row] = this.lines[this.row]!.slice(0, this.col);
        i += m[0].length - 1;
      } else if (ch === '\n') {
        this.row++;
        this.col = 0;
        this.lines[this.row] ??= '';
      } else if (ch === '\r') {
        this.col = 0;
      } else {
        const l = this.lines[this.row]!.padEnd(this.col);
        this.lines[this.row] = l.slice(0, this.col) + ch + l.slice(this.col + 1);
        this.col++;
      }
    }
  }
  text(): string {
    return this.lines.map((l) => l.trimEnd()).join('\n').trimEnd();
  }
}

/** A finished or running step's line on a 60-column terminal: the text, then its time right-aligned. */
const row = (text: string, time: string): string => `${text.padEnd(52)} ${time.padStart(6)}`;

describe('BuildProgressView', () => {
  it('prints plain lines off a terminal: each step, cached marks, output indented, time of the steps that ran', () => {
    const out: string[] = [];
    let t = 0;
    const v = new BuildProgressView({ write: (s) => out.push(s) }, { now: () => t });
    v.update({ type: 'step', stage: '0', step: 1, total: 3, instruction: 'FROM busybox', cached: true });
    v.update({ type: 'step', stage: '0', step: 2, total: 3, instruction: 'COPY a /a', cached: true });
    v.update({ type: 'step', stage: '0', step: 3, total: 3, instruction: 'RUN make', cached: false });
    v.update({ type: 'output', stage: '0', step: 3, line: 'compiling', stream: 'stdout' });
    t = 1500;
    v.update({ type: 'done', stage: '0', step: 3, total: 3, instruction: 'RUN make', durationMs: 1500 });
    v.finish(true);
    expect(out.join('')).toBe('[0 1/3] FROM busybox (cached)\n[0 2/3] COPY a /a (cached)\n[0 3/3] RUN make\n  compiling\n[0 3/3] done in 1.5s\n');
  });

  it('on a terminal keeps finished steps above a live region with the header, the running step, its time and last line', () => {
    const screen = new Screen();
    let t = 0;
    const v = new BuildProgressView(screen, { now: () => t, interval: 0 });
    v.update({ type: 'step', stage: 'build', step: 1, total: 3, instruction: 'FROM debian', cached: true });
    v.update({ type: 'step', stage: 'build', step: 2, total: 3, instruction: 'COPY . /src', cached: true });
    v.update({ type: 'step', stage: 'build', step: 3, total: 3, instruction: 'RUN make', cached: false });
    t = 2300;
    v.update({ type: 'output', stage: 'build', step: 3, line: 'cc -o app main.c', stream: 'stdout' });
    v.update({ type: 'output', stage: 'build', step: 3, line: 'linking \x1b[1mapp\x1b[0m', stream: 'stderr' });
    expect(screen.text()).toBe([
      row('=> [build 1/3] FROM debian', '0.0s'),
      row('=> CACHED [build 2/3] COPY . /src', '0.0s'),
      '[+] Building 2.3s (2/3)',
      row('=> [build 3/3] RUN make', '2.3s'),
      '=> => linking app',
    ].join('\n'));
    t = 4000;
    v.update({ type: 'done', stage: 'build', step: 3, total: 3, instruction: 'RUN make', durationMs: 4000 });
    v.finish(true);
    expect(screen.text()).toBe([
      row('=> [build 1/3] FROM debian', '0.0s'),
      row('=> CACHED [build 2/3] COPY . /src', '0.0s'),
      row('=> [build 3/3] RUN make', '4.0s'),
      '[+] Building 4.0s (3/3) FINISHED',
    ].join('\n'));
  });

  it('on a terminal leaves the failing step and its last line on screen', () => {
    const screen = new Screen();
    let t = 0;
    const v = new BuildProgressView(screen, { now: () => t, interval: 0 });
    v.update({ type: 'step', stage: '0', step: 2, total: 2, instruction: 'RUN false', cached: false });
    v.update({ type: 'output', stage: '0', step: 2, line: 'boom', stream: 'stderr' });
    t = 100;
    v.finish(false);
    expect(screen.text()).toBe([
      row('=> ERROR [0 2/2] RUN false', '0.1s'),
      '=> => boom',
      '[+] Building 0.1s (0/2) ERROR',
    ].join('\n'));
  });
});

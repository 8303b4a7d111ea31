/**
 * Drives slipway-helper directly, without the Keeper class: the tests that play a hostile or broken
 * client write bytes the Keeper class would never send.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperPath } from '../../../src/runtime/keeper/helper-path.js';
import { mapUserNamespace } from '../../../src/runtime/keeper/id-mapping.js';
import { FrameDecoder, FrameType, Tag, encodeFrame, field, tlv, type Frame } from '../../../src/runtime/keeper/protocol.js';

export class RawHelper {
  readonly child: ChildProcessWithoutNullStreams;
  readonly frames: Frame[] = [];
  /** From HELLO. */
  stateDir = '';
  stderr = '';
  #waiters: (() => void)[] = [];

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    const dec = new FrameDecoder();
    child.stdout.on('data', (c: Buffer) => {
      for (const f of dec.push(c)) this.frames.push(f);
      for (const w of this.#waiters.splice(0)) w();
    });
    child.stderr.on('data', (c: Buffer) => { this.stderr += c.toString(); });
    child.stdin.on('error', () => {});
  }

  /** Starts the helper and answers its NEED_MAP; resolves after HELLO. */
  static async start(): Promise<RawHelper> {
    const root = mkdtempSync(join(tmpdir(), 'slipway-raw-'));
    const h = new RawHelper(spawn(helperPath(), ['keeper', root], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const need = await h.next((f) => f.type === FrameType.NEED_MAP);
    const m = await mapUserNamespace(field.uint(need.fields, Tag.PID)!);
    h.write(encodeFrame(FrameType.MAPPED, 0, [tlv.u8(Tag.TYPE, m.kind === 'identity' ? 1 : m.kind === 'subid' ? 2 : 3)]));
    const hello = await h.next((f) => f.type === FrameType.HELLO);
    h.stateDir = field.str(hello.fields, Tag.STATE_DIR) ?? '';
    return h;
  }

  write(b: Buffer): void {
    this.child.stdin.write(b);
  }

  /** The first frame (seen or to come) that matches; removes it from `frames`. */
  async next(match: (f: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`helper exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        this.child.once('exit', () => resolve());
      });
    }
  }

  /** The final answer (OK or ERROR) to reqid. */
  answer(reqid: number): Promise<Frame> {
    return this.next((f) => f.reqid === reqid && (f.type === FrameType.OK || f.type === FrameType.ERROR));
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    await gone;
  }
}

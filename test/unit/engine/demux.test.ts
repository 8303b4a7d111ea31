import { describe, expect, it } from 'vitest';
import { Demuxer, demultiplex } from '../../../src/engine/demux.js';

const frame = (type: number, text: string) => {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
};

describe('engine stream demultiplexer', () => {
  it('splits frames cut anywhere by the transport, byte by byte included', async () => {
    const all = Buffer.concat([frame(1, 'out1\n'), frame(2, 'err\n'), frame(1, ''), frame(1, 'x'.repeat(70_000))]);
    async function* bytes() { for (let i = 0; i < all.length; i += 1 + (i % 7)) yield all.subarray(i, Math.min(all.length, i + 1 + (i % 7))); }
    const frames = [];
    for await (const f of demultiplex(bytes())) frames.push(f);
    expect(frames.map((f) => [f.stream, f.data.length])).toEqual([['stdout', 5], ['stderr', 4], ['stdout', 0], ['stdout', 70_000]]);
    expect(frames[0]!.data.toString()).toBe('out1\n');
  });

  it('refuses a stream that is not multiplexed (a TTY\'s raw output) and one that ends inside a frame', async () => {
    expect(() => new Demuxer().push(Buffer.from('hello world\n'))).toThrow(/not multiplexed/);
    const d = new Demuxer();
    expect(d.push(frame(1, 'abcdef').subarray(0, 10))).toEqual([]);
    expect(() => d.end()).toThrow(/ended inside a frame/);
  });
});

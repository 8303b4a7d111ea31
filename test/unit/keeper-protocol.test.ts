import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../src/errors.js';
import { FrameDecoder, FrameType, MAX_FRAME, Tag, decodeFields, encodeFrame, field, tlv } from '../../src/runtime/keeper/protocol.js';
import { decodeWaitStatus, errorFromFrame } from '../../src/runtime/keeper/keeper.js';

describe('keeper protocol', () => {
  it('encodes the documented byte layout', () => {
    const f = encodeFrame(FrameType.KILL, 0x01020304, [tlv.str(Tag.ID, 'ab'), tlv.u32(Tag.SIGNAL, 15)]);
    expect([...f]).toEqual([
      5 + 8 + 10, 0, 0, 0, // length after the length field
      0x12, 4, 3, 2, 1, // type, reqid (LE)
      1, 0, 2, 0, 0, 0, 0x61, 0x62, // ID "ab"
      23, 0, 4, 0, 0, 0, 15, 0, 0, 0, // SIGNAL 15
    ]);
  });

  it('round-trips frames split at every byte boundary', () => {
    const a = encodeFrame(FrameType.OK, 7, [tlv.u32(Tag.PID, 4242), tlv.u64(Tag.SIZE, 2n ** 40n)]);
    const b = encodeFrame(FrameType.EXEC_OUTPUT, 8, [tlv.u8(Tag.STREAM, 2), tlv.bytes(Tag.DATA, Buffer.from([0, 1, 255]))]);
    const all = Buffer.concat([a, b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(frames.map((f) => [f.type, f.reqid])).toEqual([[FrameType.OK, 7], [FrameType.EXEC_OUTPUT, 8]]);
      expect(field.uint(frames[0]!.fields, Tag.PID)).toBe(4242);
      expect(field.uint(frames[0]!.fields, Tag.SIZE)).toBe(2 ** 40);
      expect([...field.first(frames[1]!.fields, Tag.DATA)!.value]).toEqual([0, 1, 255]);
      expect(d.pending).toBe(0);
    }
  });

  it('reassembles a large frame fed in small chunks, with the next frame in the same chunk', () => {
    const big = Buffer.alloc(300_000, 7);
    big[0] = 1;
    big[big.length - 1] = 2;
    const all = Buffer.concat([encodeFrame(FrameType.GET_ENTRY, 1, [tlv.bytes(Tag.DATA, big)]), encodeFrame(FrameType.OK, 1), encodeFrame(FrameType.OK, 2)]);
    const d = new FrameDecoder();
    const frames = [];
    for (let o = 0, step = 1; o < all.length; o += step, step = (step * 7) % 65_537 || 3) frames.push(...d.push(all.subarray(o, o + step)));
    expect(frames.map((f) => [f.type, f.reqid])).toEqual([[FrameType.GET_ENTRY, 1], [FrameType.OK, 1], [FrameType.OK, 2]]);
    expect(field.first(frames[0]!.fields, Tag.DATA)!.value.equals(big)).toBe(true);
    expect(d.pending).toBe(0);
  });

  it('nests records and repeats tags for lists', () => {
    const body = encodeFrame(FrameType.CREATE, 1, [
      tlv.str(Tag.ARG, 'sh'), tlv.str(Tag.ARG, '-c'),
      tlv.nested(Tag.MOUNT, [tlv.u8(Tag.MOUNT_TYPE, 1), tlv.str(Tag.SRC, '/a'), tlv.str(Tag.DST, '/b')]),
    ]).subarray(9);
    const fields = decodeFields(body);
    expect(field.all(fields, Tag.ARG).map((f) => f.value.toString())).toEqual(['sh', '-c']);
    const m = decodeFields(field.first(fields, Tag.MOUNT)!.value);
    expect(field.str(m, Tag.DST)).toBe('/b');
  });

  it('rejects malformed input', () => {
    expect(() => new FrameDecoder().push(Buffer.from([1, 0, 0, 0, 0]))).toThrow(/bad frame length 1/);
    expect(() => decodeFields(Buffer.from([1, 0, 9, 0, 0, 0, 1]))).toThrow(/overruns/);
    expect(() => tlv.str(Tag.ARG, 'a\0b')).toThrow(/NUL/);
  });

  it('decodes wait statuses', () => {
    expect(decodeWaitStatus(3 << 8)).toEqual({ exitCode: 3, signal: null });
    expect(decodeWaitStatus(9)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    expect(decodeWaitStatus(15 | 0x80)).toEqual({ exitCode: null, signal: 'SIGTERM' });
  });

  it('turns ERROR frames into SlipwayErrors with stage and errno', () => {
    const [frame] = new FrameDecoder().push(encodeFrame(FrameType.ERROR, 3, [tlv.u32(Tag.KIND, 8), tlv.str(Tag.STAGE, 'mount overlay'), tlv.u32(Tag.ERRNO, 22), tlv.str(Tag.MESSAGE, 'Invalid argument')]));
    const e = errorFromFrame(frame!);
    expect(e.code).toBe('ERR_RUNTIME');
    expect(e.shortMessage).toBe('mount overlay: EINVAL (Invalid argument)');
    expect(e.hint).toMatch(/overlayfs/);
    expect(e).toMatchObject({ kind: 'rootfs', stage: 'mount overlay', errno: 22, errnoName: 'EINVAL' });
  });

  it('refuses to encode a frame above the 64 MiB limit (the keeper would fail it) and encodes one just below', () => {
    const big = Buffer.alloc(MAX_FRAME - 5 - 6);
    expect(encodeFrame(FrameType.PUT, 1, [tlv.bytes(Tag.DATA, big)]).length).toBe(4 + MAX_FRAME);
    let err: unknown;
    try {
      encodeFrame(FrameType.PUT, 1, [tlv.bytes(Tag.DATA, Buffer.alloc(MAX_FRAME))]);
    } catch (e) {
      err = e;
    }
    expect(SlipwayError.is(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
  });
});

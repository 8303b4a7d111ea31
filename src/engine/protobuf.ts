/**
 * Just enough protocol buffers for the few small BuildKit messages the engine backend reads and writes (build progress,
 * secrets, health): varints and length-delimited fields, by hand. Unknown fields are skipped, as protobuf requires.
 */
import { SlipwayError } from '../errors.js';

/** One field of a message: its number and either a varint or the bytes of a length-delimited value. */
export type ProtoField = { no: number; varint: bigint; bytes?: undefined } | { no: number; bytes: Buffer; varint?: undefined };

function malformed(what: string): SlipwayError {
  return new SlipwayError('ERR_RUNTIME', `a malformed protobuf message from the engine: ${what}`, {
    hint: 'the engine sent BuildKit data slipway cannot read; report it with the engine\'s version (slipway info)',
  });
}

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let v = 0n;
  for (let shift = 0n, i = at; i < buf.length && shift < 70n; i++, shift += 7n) {
    const b = buf[i]!;
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, i + 1];
  }
  throw malformed('a varint runs past its message');
}

/** The fields of one message in order (repeated fields appear once each). @throws SlipwayError `ERR_RUNTIME` */
export function decodeFields(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  while (at < buf.length) {
    const [key, next] = readVarint(buf, at);
    at = next;
    const no = Number(key >> 3n);
    switch (Number(key & 7n)) {
      case 0: {
        const [v, n] = readVarint(buf, at);
        at = n;
        out.push({ no, varint: v });
        break;
      }
      case 1: at += 8; break;
      case 5: at += 4; break;
      case 2: {
        const [len, n] = readVarint(buf, at);
        const end = n + Number(len);
        if (end > buf.length) throw malformed(`field ${no} is longer than its message`);
        out.push({ no, bytes: buf.subarray(n, end) });
        at = end;
        break;
      }
      default: throw malformed(`wire type ${Number(key & 7n)} of field ${no}`);
    }
  }
  if (at > buf.length) throw malformed('a fixed-size field runs past its message');
  return out;
}

function varint(v: number | bigint): Buffer {
  let n = BigInt(v);
  const bytes: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n) b |= 0x80;
    bytes.push(b);
  } while (n);
  return Buffer.from(bytes);
}

/** A length-delimited field (string, bytes, message). */
export function bytesField(no: number, value: Buffer | string): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint((no << 3) | 2), varint(b.length), b]);
}

/** A varint field (int, enum, bool). */
export function varintField(no: number, value: number | bigint): Buffer {
  return Buffer.concat([varint(no << 3), varint(value)]);
}

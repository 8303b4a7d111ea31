/**
 * Node ↔ keeper wire protocol. Must match native/protocol.h.
 *
 * Frame (little-endian): `u32 length` (bytes after this field) | `u8 type` | `u32 request id` |
 * TLV fields (`u16 tag`, `u32 len`, bytes), repeated. Lists repeat a tag; nested records (a mount,
 * an rlimit) are a TLV whose value is itself a TLV sequence. Strings are UTF-8 without NUL.
 */

import { SlipwayError } from '../../errors.js';

/** Bumped whenever the wire format changes; the keeper reports its own in HELLO. */
export const PROTOCOL_VERSION = 11;
/**
 * Frames larger than this are a protocol error; {@link encodeFrame} refuses to build one (payloads
 * above {@link CHUNK} go as DATA frames). The keeper fails such a frame's request only.
 */
export const MAX_FRAME = 64 * 1024 * 1024;
/** Payload bytes per DATA frame (file content of a PUT, exec stdin). */
export const CHUNK = 1024 * 1024;
/** DATA frames sent but not yet acknowledged (DATA_ACK) per request: the keeper buffers at most this many. */
export const WINDOW = 4;

/** Frame types (see native/protocol.h `enum sw_frame`). */
export const FrameType = {
  MAPPED: 0x01,
  CREATE: 0x10,
  START: 0x11,
  KILL: 0x12,
  REMOVE: 0x13,
  EXEC: 0x14,
  CHOWN_LIST: 0x15,
  RMTREE: 0x16,
  PUT: 0x17,
  GET: 0x18,
  PUBLISH: 0x19,
  UNPUBLISH: 0x1a,
  NET_CREATE: 0x1b,
  NET_REMOVE: 0x1c,
  NET_ATTACH: 0x1d,
  DATA: 0x1e,
  HOST_FORWARD: 0x1f,
  OUTBOUND: 0x20,
  OUTBOUND_STOP: 0x21,
  NEED_MAP: 0x80,
  HELLO: 0x81,
  OK: 0x82,
  ERROR: 0x83,
  EXIT: 0x84,
  EXEC_OUTPUT: 0x85,
  GET_ENTRY: 0x86,
  DATA_ACK: 0x87,
  GET_DATA: 0x88,
} as const;

/** TLV tags (see native/protocol.h `enum sw_tag`). */
export const Tag = {
  ID: 1, STATE_DIR: 2, LOWER: 3, UPPER: 4, WORK: 5, ROOTFS: 6, ARG: 7, ENV: 8, CWD: 9, UID: 10, GID: 11,
  GROUP: 12, HOSTNAME: 13, MOUNT: 14, SHM_SIZE: 15, NET: 16, LOG_PATH: 18, LOG_MAX: 19, NO_NEW_PRIVS: 20,
  CAPS: 21, RLIMIT: 22, SIGNAL: 23, STATUS: 24, PID: 25, PATH: 26, LIST_FILE: 27, STAGE: 28, ERRNO: 29,
  MESSAGE: 30, VERSION: 31, BUILD_ID: 32, STREAM: 33, DATA: 34, STDIN: 35, TYPE: 36, MODE: 37, MTIME: 38,
  SIZE: 39, LINK: 40, HOST_IP: 41, PORT: 42, PROTO: 43, MOUNT_TYPE: 44, SRC: 45, DST: 46, READONLY: 47,
  OPTIONS: 48, RESOURCE: 49, SOFT: 50, HARD: 51, CONTAINER_PORT: 52, RELPATH: 53, KEEP: 54,
  NET_ID: 55, SUBNET: 56, IP: 57, PREFIX: 58, IFNAME: 59, UNREACHABLE: 60, TAP: 61,
  CHUNKED: 62, EOF: 63, SECCOMP: 64, KIND: 65, TOP_ONLY: 66, CANCEL: 67, ARG_PID: 68,
  POOL_ARG: 69, POOL_ARG_NETNS: 70, IF_PREPARED: 71,
} as const;

/** One decoded TLV. */
export interface Field {
  tag: number;
  value: Buffer;
}

/** One decoded frame. */
export interface Frame {
  type: number;
  reqid: number;
  fields: Field[];
}

/** Builders for TLV fields. */
export const tlv = {
  str: (tag: number, s: string): Field => {
    if (s.includes('\0')) throw new TypeError(`string field ${tag} contains a NUL byte`);
    return { tag, value: Buffer.from(s, 'utf8') };
  },
  bytes: (tag: number, b: Uint8Array): Field => ({ tag, value: Buffer.from(b.buffer, b.byteOffset, b.byteLength) }),
  u8: (tag: number, n: number): Field => ({ tag, value: Buffer.from([n & 0xff]) }),
  u32: (tag: number, n: number): Field => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n >>> 0);
    return { tag, value: b };
  },
  u64: (tag: number, n: number | bigint): Field => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return { tag, value: b };
  },
  nested: (tag: number, fields: Field[]): Field => ({ tag, value: encodeFields(fields) }),
};

/** Serialises TLVs back to back. */
export function encodeFields(fields: readonly Field[]): Buffer {
  let size = 0;
  for (const f of fields) size += 6 + f.value.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const f of fields) {
    out.writeUInt16LE(f.tag, o);
    out.writeUInt32LE(f.value.length, o + 2);
    f.value.copy(out, o + 6);
    o += 6 + f.value.length;
  }
  return out;
}

/**
 * Encodes one frame.
 * @throws SlipwayError ERR_INVALID_ARGUMENT when it would exceed {@link MAX_FRAME} (the keeper would refuse it).
 */
export function encodeFrame(type: number, reqid: number, fields: readonly Field[] = []): Buffer {
  let size = 5;
  for (const f of fields) size += 6 + f.value.length;
  if (size > MAX_FRAME) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `request of ${size} bytes is above the keeper's ${MAX_FRAME}-byte frame limit`, {
      hint: 'pass fewer or smaller arguments, environment variables or mounts (file contents and stdin are streamed and have no such limit)',
    });
  }
  const body = encodeFields(fields);
  const head = Buffer.allocUnsafe(9);
  head.writeUInt32LE(5 + body.length, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32LE(reqid >>> 0, 5);
  return Buffer.concat([head, body]);
}

/** Parses a TLV sequence. @throws Error on truncated input. */
export function decodeFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let o = 0;
  while (o < buf.length) {
    if (buf.length - o < 6) throw new Error('truncated TLV header');
    const tag = buf.readUInt16LE(o);
    const len = buf.readUInt32LE(o + 2);
    if (len > buf.length - o - 6) throw new Error(`TLV ${tag} overruns its frame`);
    out.push({ tag, value: buf.subarray(o + 6, o + 6 + len) });
    o += 6 + len;
  }
  return out;
}

/**
 * Splits a byte stream into frames. Chunks are kept in a list and joined once per frame: joining the
 * partial frame with every 64 KiB pipe read made a large frame cost O(size²) (48 MiB GET: 8 s+).
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #size = 0;

  /** Adds bytes; returns every frame completed by them. @throws Error on a malformed length. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.#size >= 4) {
      const len = this.#peekLength();
      if (len < 5 || len > MAX_FRAME) throw new Error(`bad frame length ${len}`);
      if (this.#size < 4 + len) break;
      const frame = this.#take(4 + len);
      frames.push({ type: frame.readUInt8(4), reqid: frame.readUInt32LE(5), fields: decodeFields(frame.subarray(9)) });
    }
    return frames;
  }

  /** Bytes buffered but not yet a whole frame. */
  get pending(): number {
    return this.#size;
  }

  #peekLength(): number {
    const head = this.#chunks[0]!;
    if (head.length >= 4) return head.readUInt32LE(0);
    this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.readUInt32LE(0);
  }

  /** Removes and returns the first `n` buffered bytes (the caller checked that they are there). */
  #take(n: number): Buffer {
    const head = this.#chunks[0]!;
    let out: Buffer;
    if (head.length >= n) {
      out = head.subarray(0, n);
      if (head.length === n) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const c = this.#chunks[0]!;
        if (c.length <= need) {
          parts.push(c);
          this.#chunks.shift();
          need -= c.length;
        } else {
          parts.push(c.subarray(0, need));
          this.#chunks[0] = c.subarray(need);
          need = 0;
        }
      }
      out = Buffer.concat(parts, n);
    }
    this.#size -= n;
    return out;
  }
}

/** Field accessors. */
export const field = {
  first: (fields: readonly Field[], tag: number): Field | undefined => fields.find((f) => f.tag === tag),
  str: (fields: readonly Field[], tag: number): string | undefined => field.first(fields, tag)?.value.toString('utf8'),
  uint: (fields: readonly Field[], tag: number): number | undefined => {
    const v = field.first(fields, tag)?.value;
    if (!v) return undefined;
    let n = 0;
    for (let i = Math.min(v.length, 6) - 1; i >= 0; i--) n = n * 256 + v[i]!;
    return n;
  },
  all: (fields: readonly Field[], tag: number): Field[] => fields.filter((f) => f.tag === tag),
};

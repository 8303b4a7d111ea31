/**
 * Docker's multiplexed stream (logs and exec without a TTY): frames of an 8-byte header — stream type (0 stdin,
 * 1 stdout, 2 stderr, 3 a system error), three zero bytes, a big-endian 32-bit payload length — and the payload.
 * Frames arrive cut anywhere by the transport; this reassembles them.
 */
import { SlipwayError } from '../errors.js';

/** One payload of a multiplexed stream. */
export interface StreamFrame {
  stream: 'stdin' | 'stdout' | 'stderr' | 'system';
  data: Buffer;
}

const STREAMS = ['stdin', 'stdout', 'stderr', 'system'] as const;
/** Larger than any frame an engine writes (32 KiB buffers): a length above it means the stream is not multiplexed. */
const MAX_FRAME = 64 * 1024 * 1024;

/** Splits chunks of a multiplexed stream into frames; feed it with {@link push}, then call {@link end}. */
export class Demuxer {
  #pending: Buffer = Buffer.alloc(0);

  /** Every frame completed by `chunk`. @throws SlipwayError `ERR_RUNTIME` for a header that is not a frame's */
  push(chunk: Buffer): StreamFrame[] {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: StreamFrame[] = [];
    while (buf.length >= 8) {
      const type = buf[0]!;
      const size = buf.readUInt32BE(4);
      if (type > 3 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0 || size > MAX_FRAME) {
        throw new SlipwayError('ERR_RUNTIME', `the engine sent a stream that is not multiplexed (header ${buf.subarray(0, 8).toString('hex')})`, {
          hint: 'a container started with a TTY sends raw output; slipway starts containers without one',
        });
      }
      if (buf.length < 8 + size) break;
      out.push({ stream: STREAMS[type]!, data: Buffer.from(buf.subarray(8, 8 + size)) });
      buf = buf.subarray(8 + size);
    }
    this.#pending = Buffer.from(buf);
    return out;
  }

  /** @throws SlipwayError `ERR_RUNTIME` when the stream ended inside a frame */
  end(): void {
    if (this.#pending.length) throw new SlipwayError('ERR_RUNTIME', `the engine's stream ended inside a frame (${this.#pending.length} bytes left)`);
  }
}

/** The frames of a multiplexed byte stream, in order. */
export async function* demultiplex(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<StreamFrame> {
  const d = new Demuxer();
  for await (const chunk of source) yield* d.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  d.end();
}

/**
 * Worker-thread entry for {@link unpackLayer}: the main thread streams the layer bytes in, this thread
 * decompresses, hashes and writes the files, so two layers unpack on two cores. Not a public module.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SlipwayError } from '../errors.js';
import { newUnpackStats, unpackLayer, type UnpackOptions, type UnpackStats } from './unpack.js';
import { syncFileWriter } from './sync-file-writer.js';

/** What the main thread passes as `workerData`. */
export interface UnpackWorkerData {
  dir: string;
  digest?: string | undefined;
  diffId?: string | undefined;
  size?: number | undefined;
  ownershipListPath: string;
  blobTempPath?: string | undefined;
  label?: string | undefined;
  overlayXattrPrefix?: string | undefined;
  /** `false`: the main thread hashes, counts and stores the compressed bytes (see {@link UnpackOptions.hashSource}). */
  hashSource?: boolean | undefined;
  /** {@link UnpackOptions.expansionLimit} */
  expansionLimit?: number | undefined;
  /** {@link UnpackOptions.expansionFree} */
  expansionFree?: number | undefined;
}

/** Messages main → worker. */
export type ToWorker = { type: 'chunk'; buf: Uint8Array } | { type: 'end' } | { type: 'fail'; message: string };
/** Messages worker → main. */
export type FromWorker =
  | { type: 'progress'; n: number }
  | { type: 'done'; result: Awaited<ReturnType<typeof unpackLayer>>; stats: UnpackStats }
  | { type: 'error'; code?: string; message: string; hint?: string; slipway: boolean; cause?: ErrorRecord };

/** An error as data across the thread boundary (errno fields kept, so the cause still says ENOSPC and where). */
export interface ErrorRecord { name?: string; message: string; code?: string; errno?: number; syscall?: string; path?: string }

function record(e: unknown): ErrorRecord | undefined {
  if (!e || typeof e !== 'object') return e === undefined ? undefined : { message: String(e) };
  const x = e as NodeJS.ErrnoException;
  const out: ErrorRecord = { name: x.name, message: String(x.message) };
  if (typeof x.code === 'string') out.code = x.code;
  if (typeof x.errno === 'number') out.errno = x.errno;
  if (typeof x.syscall === 'string') out.syscall = x.syscall;
  if (typeof x.path === 'string') out.path = x.path;
  return out;
}


async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as UnpackWorkerData;
  const queue: ToWorker[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (m: ToWorker) => {
    queue.push(m);
    wake?.();
  });
  async function* source(): AsyncGenerator<Buffer> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      const m = queue.shift()!;
      if (m.type === 'end') return;
      if (m.type === 'fail') throw new SlipwayError('ERR_REGISTRY', m.message);
      yield Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength);
    }
  }
  const writer = data.blobTempPath ? syncFileWriter(data.blobTempPath) : undefined;
  const stats = newUnpackStats();
  let lastReport = 0;
  const opts: UnpackOptions = {
    source: source(), dir: data.dir, digest: data.digest, diffId: data.diffId, size: data.size,
    ownershipListPath: data.ownershipListPath, applyOwnership: 'defer', blobWriter: writer, label: data.label,
    ...(data.overlayXattrPrefix ? { overlayXattrPrefix: data.overlayXattrPrefix } : {}),
    hashSource: data.hashSource,
    expansionLimit: data.expansionLimit, expansionFree: data.expansionFree,
    stats,
    onBytes: (n) => {
      if (n - lastReport >= 1 << 20) {
        lastReport = n;
        port.postMessage({ type: 'progress', n } satisfies FromWorker);
      }
    },
  };
  try {
    const result = await unpackLayer(opts);
    await writer?.commit();
    port.postMessage({ type: 'progress', n: result.size } satisfies FromWorker);
    port.postMessage({ type: 'done', result, stats } satisfies FromWorker);
  } catch (e) {
    const err = e as SlipwayError;
    port.postMessage({
      type: 'error', code: err.code, message: SlipwayError.is(e) ? err.shortMessage : String(err?.message ?? e), hint: err.hint, slipway: SlipwayError.is(e),
      cause: record(SlipwayError.is(e) ? e.cause : e),
    } satisfies FromWorker);
  }
  port.close();
}

if (parentPort) void main();

/**
 * Runs {@link unpackLayer} on a worker thread when the compiled worker is available (the built package),
 * else in this thread (running from TypeScript sources). Same contract as `unpackLayer`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { logger } from '../internal/debug.js';
import { moduleUrl } from '../internal/module-url.js';
import { SlipwayError, type SlipwayErrorCode } from '../errors.js';
import { isDiskFull, removeTree } from './fs-tree.js';
import { syncFileWriter } from './sync-file-writer.js';
import { preloadSyscalls } from './syscalls.js';
import { localApplyOwnership, unpackLayer, type ApplyOwnership, type UnpackOptions, type UnpackResult, type UnpackStats } from './unpack.js';
import type { FromWorker, ToWorker, UnpackWorkerData } from './unpack-worker.js';

const debug = logger('image:unpack');

/** Bytes in flight to a worker before the sender waits. */
const WINDOW = 16 << 20;
/** Largest message of layer bytes to a worker. */
const BATCH = 256 << 10;

let defaultWorker: string | null | undefined;

/** The compiled worker script next to this module, or null when running from sources. */
export function defaultWorkerPath(): string | null {
  if (defaultWorker === undefined) {
    const p = fileURLToPath(new URL('../image/unpack-worker.js', moduleUrl));
    defaultWorker = existsSync(p) ? p : null;
  }
  return defaultWorker;
}

/** Flags about the main script or the debugger, each with whether it takes its value as the next argument. */
const NOT_FOR_WORKERS = new Map<string, boolean>([
  ['--input-type', true], ['--eval', true], ['-e', true], ['--print', true], ['-p', true], ['--check', false], ['-c', false],
  ['--interactive', false], ['-i', false], ['--import', true], ['--require', true], ['-r', true], ['--loader', true],
  ['--experimental-loader', true], ['--experimental-default-type', true], ['--watch', false], ['--watch-path', true],
  ['--watch-preserve-output', false], ['--test', false], ['--test-only', false], ['--test-reporter', true],
  ['--test-reporter-destination', true], ['--test-name-pattern', true], ['--test-concurrency', true], ['--env-file', true],
  ['--env-file-if-exists', true], ['--inspect', false], ['--inspect-brk', false], ['--inspect-wait', false], ['--inspect-port', true],
  ['--debug-port', true],
]);

/**
 * The node flags an unpack worker may inherit. A worker gets `process.execArgv` by default, and some flags only make
 * sense for the main script: under `node --input-type=module` every worker died with "--input-type can only be used
 * with string input" (so every pull failed); `--import`/`--require`/loaders would run the user's hooks (a test
 * runner's, a TypeScript loader's) in our worker; `--inspect` would fight over the debugger port. Those go;
 * everything else (`--max-old-space-size`, `--no-warnings`, `--expose-gc`…) stays.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const takesValue = NOT_FOR_WORKERS.get(name) ?? (name.startsWith('--inspect') ? false : undefined);
    if (takesValue === undefined) {
      out.push(arg);
      continue;
    }
    if (takesValue && name === arg) i++; // the value is the next argument
  }
  return out;
}

/**
 * A worker with the flags it may inherit. Node refuses per-process flags in a worker's execArgv
 * (`ERR_WORKER_INVALID_EXEC_ARGV`: `node --perf-basic-prof app.js`, `--stack-size=…` made every pull fail); they act
 * on the whole process anyway, so on that refusal the worker starts with none.
 */
function startWorker(workerPath: string, workerData: UnpackWorkerData): Worker {
  try {
    return new Worker(workerPath, { workerData, execArgv: workerExecArgv(process.execArgv) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    return new Worker(workerPath, { workerData, execArgv: [] });
  }
}

/** Options for {@link unpackLayerThreaded}. */
export interface ThreadedUnpackOptions extends Omit<UnpackOptions, 'blobWriter' | 'applyOwnership'> {
  applyOwnership?: ApplyOwnership | undefined;
  /** Write the layer bytes to this temp file as well (renamed to `blobPath` on success). */
  blob?: { tempPath: string; path: string } | undefined;
  /** The worker script; `null` forces this thread. @defaultValue the compiled unpack-worker.js, if present */
  workerPath?: string | null;
}

/**
 * Unpacks a layer, on a worker thread when possible; applies ownership on this thread afterwards.
 * @throws the same errors as {@link unpackLayer}.
 */
export async function unpackLayerThreaded(opts: ThreadedUnpackOptions): Promise<UnpackResult> {
  const workerPath = opts.workerPath === undefined ? defaultWorkerPath() : opts.workerPath;
  if (!workerPath) {
    const { openSync } = await import('node:fs');
    let writer: UnpackOptions['blobWriter'];
    if (opts.blob) {
      const { closeSync, writeSync } = await import('node:fs');
      const fd = openSync(opts.blob.tempPath, 'wx', 0o644);
      let closed = false;
      const close = (): void => {
        if (!closed) {
          closed = true;
          closeSync(fd);
        }
      };
      writer = {
        write: async (c) => {
          let off = 0;
          while (off < c.length) off += writeSync(fd, c, off);
        },
        commit: async () => close(),
        abort: async () => {
          close();
          await rm(opts.blob!.tempPath, { force: true });
        },
      };
    }
    const r = await unpackLayer({ ...opts, blobWriter: writer });
    if (opts.blob) {
      await writer!.commit();
      await rename(opts.blob.tempPath, opts.blob.path);
    }
    return r;
  }

  // The compressed bytes are hashed, counted and written to the blob here, on a thread that otherwise only waits for
  // the download: the worker (inflate, tar, files) is the busier one. The worker computes the diff id; this thread
  // checks size, digest and diff id in unpackLayer's order once the worker is done, so its errors (a corrupt gzip
  // stream, a hostile entry) keep precedence as before.
  const data: UnpackWorkerData = {
    dir: opts.dir, ownershipListPath: opts.ownershipListPath, label: opts.label, overlayXattrPrefix: opts.overlayXattrPrefix, hashSource: false,
    expansionLimit: opts.expansionLimit, expansionFree: opts.expansionFree,
  };
  const label = opts.label ?? opts.digest ?? 'layer';
  const compHash = createHash('sha256');
  let compBytes = 0;
  let blobWriter: ReturnType<typeof syncFileWriter> | undefined;
  let blobTime = 0;
  preloadSyscalls();
  const worker = startWorker(workerPath, data);
  let consumed = 0;
  let sent = 0;
  let wakeSender: (() => void) | undefined;
  let settled = false;
  let workerStats: UnpackStats | undefined;
  // Where this thread's time went: waiting for the download, and blocked on the window (the worker behind).
  const started = performance.now();
  let netWait = 0;
  let windowWait = 0;
  let windowWaits = 0;
  const outcome = new Promise<UnpackResult>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'progress') {
        consumed = m.n;
        opts.onBytes?.(m.n);
        wakeSender?.();
      } else if (m.type === 'done') {
        settled = true;
        workerStats = m.stats;
        resolve(m.result);
      } else {
        settled = true;
        const cause = m.cause ? Object.assign(new Error(m.cause.message), m.cause) : undefined;
        reject(m.slipway ? new SlipwayError(m.code as SlipwayErrorCode, m.message, { hint: m.hint, cause }) : new SlipwayError('ERR_UNPACK', m.message, { cause }));
      }
      if (settled) wakeSender?.();
    });
    worker.on('error', (e) => {
      settled = true;
      wakeSender?.();
      reject(new SlipwayError('ERR_UNPACK', `unpack worker failed: ${e.message}`, { cause: e }));
    });
    worker.on('exit', (code) => {
      if (!settled) {
        settled = true;
        wakeSender?.();
        reject(new SlipwayError('ERR_UNPACK', `unpack worker exited (${code}) before finishing`));
      }
    });
  });
  outcome.catch(() => {});

  const cleanup = async (): Promise<void> => {
    await worker.terminate().catch(() => {});
    await removeTree(opts.dir).catch(() => {});
    await rm(opts.ownershipListPath, { force: true }).catch(() => {});
    if (blobWriter) await blobWriter.abort().catch(() => {});
    else if (opts.blob) await rm(opts.blob.tempPath, { force: true }).catch(() => {});
  };

  try {
    try {
      if (opts.blob) blobWriter = syncFileWriter(opts.blob.tempPath);
      // Chunks are gathered into messages of up to BATCH bytes: fewer messages, fewer turns of the worker's streams,
      // and one blob write per message instead of one per network chunk. A batch is not zero-filled (every byte sent
      // is written first) and has an ArrayBuffer of its own, so it can be transferred.
      const newBatch = (): Uint8Array<ArrayBuffer> => {
        const b = Buffer.allocUnsafeSlow(BATCH);
        return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.length);
      };
      let batch = newBatch();
      let filled = 0;
      const flush = (): void => {
        if (filled === 0) return;
        const buf = filled === batch.length ? batch : batch.slice(0, filled);
        if (blobWriter) {
          const b = performance.now();
          blobWriter.writeSync(buf);
          blobTime += performance.now() - b;
        }
        worker.postMessage({ type: 'chunk', buf } satisfies ToWorker, [buf.buffer as ArrayBuffer]);
        sent += filled;
        batch = buf === batch ? newBatch() : batch;
        filled = 0;
      };
      let w = performance.now();
      for await (const chunk of opts.source) {
        netWait += performance.now() - w;
        if (settled) break;
        if (opts.signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'the pull was aborted', { cause: opts.signal.reason });
        compHash.update(chunk);
        compBytes += chunk.length;
        if (opts.size !== undefined && compBytes > opts.size) {
          throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: more than the ${opts.size} bytes the manifest announced`, { hint: 'the registry serves different content than the manifest describes' });
        }
        // Copied (undici chunks may share a pooled ArrayBuffer, which must not be transferred) into the batch.
        for (let off = 0; off < chunk.length;) {
          const n = Math.min(chunk.length - off, BATCH - filled);
          batch.set(chunk.subarray(off, off + n), filled);
          filled += n;
          off += n;
          if (filled === BATCH) flush();
        }
        if (!settled && sent - consumed > WINDOW) {
          const b = performance.now();
          windowWaits++;
          while (!settled && sent - consumed > WINDOW) await new Promise<void>((r) => (wakeSender = r));
          windowWait += performance.now() - b;
        }
        w = performance.now();
      }
      if (!settled) {
        flush();
        worker.postMessage({ type: 'end' } satisfies ToWorker);
      }
    } catch (e) {
      if (!settled) worker.postMessage({ type: 'fail', message: (e as Error).message } satisfies ToWorker);
      await outcome.catch(() => {});
      await cleanup();
      if (isDiskFull(e) && !SlipwayError.is(e)) {
        // As unpackLayer reports its own blob writes.
        const where = (e as NodeJS.ErrnoException).path;
        throw new SlipwayError('ERR_STORE_FULL', `layer ${label}: no space left on the device${where ? ` writing ${where}` : ''}`, {
          hint: 'free space (`slipway prune` removes what no image needs) or set SLIPWAY_CACHE_DIR to a larger filesystem', cause: e,
        });
      }
      throw e;
    }
    const result = await outcome;
    const digest = `sha256:${compHash.digest('hex')}`;
    if (opts.size !== undefined && compBytes !== opts.size) {
      throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: got ${compBytes} bytes, the manifest says ${opts.size}`, { hint: 'the download was cut short or the registry is inconsistent; pull again' });
    }
    if (opts.digest !== undefined && digest !== opts.digest) {
      throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: content digest is ${digest}`, { hint: 'the registry served corrupt content; pull again' });
    }
    if (opts.diffId !== undefined && result.diffId !== opts.diffId) {
      throw new SlipwayError('ERR_DIGEST_MISMATCH', `layer ${label}: uncompressed digest ${result.diffId} differs from the config's diff id ${opts.diffId}`, { hint: 'the image is inconsistent; rebuild or re-push it' });
    }
    result.digest = digest;
    result.size = compBytes;
    if (result.ownershipList) {
      try {
        await (opts.applyOwnership ?? localApplyOwnership)(opts.dir, result.ownershipList);
      } finally {
        await rm(result.ownershipList, { force: true });
      }
    }
    if (blobWriter) {
      await blobWriter.commit();
      blobWriter = undefined;
      await rename(opts.blob!.tempPath, opts.blob!.path);
    }
    if (debug.enabled) {
      const ms = (n: number | undefined): string => (n ?? 0).toFixed(0);
      const ws = workerStats;
      debug('layer %s unpacked on a worker thread in %sms: main thread waited %sms for the download, %sms (%d times) on the %d MiB window, wrote the blob in %sms; worker %sms: input %s, inflate+tar %s, files %s, dir modes %s',
        label, ms(performance.now() - started), ms(netWait), ms(windowWait), windowWaits, WINDOW >> 20, ms(blobTime),
        ms(ws?.total), ms(ws?.input), ms(ws?.data), ms(ws?.fs), ms(ws?.dirs));
    }
    return result;
  } catch (e) {
    await cleanup();
    throw e;
  } finally {
    void worker.terminate();
  }
}

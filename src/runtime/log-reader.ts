import { closeSync, constants as fsConstants, existsSync, fstatSync, openSync, readSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/** One log line as the keeper recorded it (CRI format: `<RFC3339Nano> <stdout|stderr> <F|P> <text>`). */
export interface LogLine {
  time: Date;
  stream: 'stdout' | 'stderr';
  text: string;
  /** True for output that ended without a newline (only ever the last line of a stream). */
  unterminated?: boolean;
  /**
   * True for a piece of a line longer than {@link MAX_LINE_CHARS}: the line goes on in the next line of the same
   * stream (output as written puts no newline after this piece).
   */
  cut?: boolean;
}

/**
 * The longest line joined from the keeper's partial records (16 KiB each). A container printing without a newline
 * (`tr '\0' x < /dev/zero`) made a follower join it without end: a log wait reached 690 MB of RSS in 40 s and
 * failed with V8's untyped `RangeError: Invalid string length`. Longer lines come out in pieces of this size, marked
 * `cut`, so output as written (`text()`, `run()`) is unchanged and a reader holds at most this much per stream.
 */
export const MAX_LINE_CHARS = 1 << 20;

export interface ReadLogOptions {
  /** Keep reading new lines until `done()` is true and the file is drained, or the signal aborts. */
  follow?: boolean;
  /** Only lines at or after this time. */
  since?: Date;
  stdout?: boolean;
  stderr?: boolean;
  signal?: AbortSignal;
  /** For follow: true once the writer has stopped for good (the container exited and was collected). */
  done?: () => boolean;
  /** Only the last `tail` lines of what is there when reading starts (then, with follow, every new line). */
  tail?: number;
}

/**
 * A follower wakes on an inotify event for the file (fs.watch), else after this long: a log wait saw a line 12 ms
 * late on average when it only polled every 25 ms (a reset() of Postgres waits for one line).
 */
const POLL_MS = 25;

const NO_BYTES: Buffer = Buffer.alloc(0);

/**
 * Parses one CRI log record; returns undefined for a malformed record. Its text stays bytes: the keeper cuts output
 * into 16 KiB records wherever it falls, so a partial record may end inside a UTF-8 character.
 */
export function parseCriRecord(record: Buffer): { time: Date; stream: 'stdout' | 'stderr'; partial: boolean; text: Buffer } | undefined {
  const a = record.indexOf(0x20);
  const b = record.indexOf(0x20, a + 1);
  const c = record.indexOf(0x20, b + 1);
  if (a < 0 || b < 0) return undefined;
  const stream = record.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = record.toString('latin1', b + 1, c < 0 ? record.length : c);
  return { time: new Date(record.toString('latin1', 0, a)), stream, partial: tag === 'P', text: c < 0 ? NO_BYTES : record.subarray(c + 1) };
}

/** The whole records of `chunk` (newline-ended), and what follows the last newline. */
function splitRecords(chunk: Buffer): { records: Buffer[]; rest: Buffer } {
  const records: Buffer[] = [];
  let start = 0;
  for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
    if (nl > start) records.push(chunk.subarray(start, nl));
    start = nl + 1;
  }
  return { records, rest: Buffer.from(chunk.subarray(start)) };
}

/**
 * Reads a container's log file (and its rotated predecessor `<path>.1`) as lines, joining partial
 * records, optionally following new output.
 */
export async function* readLogLines(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogLine> {
  const want = { stdout: opts.stdout !== false, stderr: opts.stderr !== false };
  const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  // A character cut between two partial records is decoded whole: each stream's decoder holds its first bytes.
  const utf8 = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  // With tail: the lines found before the first catch-up wait here (the last `tail` of them), then go out at once.
  let backlog: LogLine[] | undefined = opts.tail !== undefined ? [] : undefined;
  const flush = function* (): Generator<LogLine> {
    if (!backlog) return;
    const lines = opts.tail! > 0 ? backlog.slice(-opts.tail!) : [];
    backlog = undefined;
    yield* lines;
  };
  const emit = function* (rec: ReturnType<typeof parseCriRecord>): Generator<LogLine> {
    if (!rec || !want[rec.stream]) return;
    const decoder = utf8[rec.stream];
    const piece = rec.partial ? decoder.write(rec.text) : decoder.write(rec.text) + decoder.end();
    let cut = false;
    if (rec.partial) {
      pending[rec.stream] += piece;
      if (pending[rec.stream].length < MAX_LINE_CHARS) return;
      cut = true;
    }
    const text = cut ? pending[rec.stream] : pending[rec.stream] + piece;
    pending[rec.stream] = '';
    if (opts.since && rec.time < opts.since) return;
    const line: LogLine = cut ? { time: rec.time, stream: rec.stream, text, cut } : { time: rec.time, stream: rec.stream, text };
    if (!backlog) yield line;
    else if (backlog.push(line) > 2 * opts.tail! + 64) backlog.splice(0, backlog.length - opts.tail!);
  };
  let offset = 0;
  let ino: number | undefined;
  let carry: Buffer = NO_BYTES;
  // The file stays open while we read: a reader in another process still gets the last lines when the owner removes
  // the container (and its log) right after it exited; after a rotation the old file is drained before the new one.
  let fh: FileHandle | undefined;
  // Set by the watcher on every change; cleared before each read, so a write that lands between a read and the
  // nap below is not slept through.
  let watcher: FSWatcher | undefined;
  let changed = false;
  let wake: (() => void) | undefined;
  // A writer that had stopped for good before this read began (an exited container's) can neither add lines nor
  // rotate the file: once what the first look found is read, the log is drained, without a second stat of the file
  // and one of its name.
  const settled = opts.done?.() === true;
  // Looked for without a failing open first: the rotated file is rare, and a rejected open costs an error object
  // and a thread-pool round trip on every read of every container's log (run() reads one per container).
  const hasRotated = existsSync(`${path}.1`);
  // The end of every read: a stream that ended without a newline leaves a partial record, which is still a line.
  const finish = function* (): Generator<LogLine> {
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = want[stream] ? pending[stream] + utf8[stream].end() : '';
      if (text) {
        const line = { time: new Date(), stream, text, unterminated: true };
        if (backlog) backlog.push(line);
        else yield line;
      }
    }
    yield* flush();
  };
  // An exited container's small log (run() of a short command: most often empty) is read at once, synchronously:
  // the open, stat, read and close below were four thread-pool round trips, each an event-loop turn, on every run().
  const small = settled && !hasRotated ? readSmallSync(path) : undefined;
  if (small !== undefined) {
    opts.signal?.throwIfAborted();
    // A record not yet ended (after the last newline) is left alone, as the reads below leave it.
    for (const rec of splitRecords(small).records) yield* emit(parseCriRecord(rec));
    yield* finish();
    return;
  }
  const rotated = hasRotated ? await readWhole(`${path}.1`) : undefined;
  if (rotated) for (const rec of splitRecords(rotated).records) yield* emit(parseCriRecord(rec));
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      changed = false;
      const finished = opts.done?.() ?? true;
      // A file just opened is stat'ed once, for its inode and its size.
      let opened: Stats | undefined;
      if (!fh) {
        fh = await open(path, 'r').catch(() => undefined);
        if (fh) {
          const first = ino === undefined;
          opened = await fh.stat();
          ino = opened.ino;
          if (!first) { offset = 0; carry = NO_BYTES; } // the file that replaced a rotated one
        }
      }
      const size = fh ? (opened ?? await fh.stat()).size : 0;
      if (fh && size > offset) {
        const buf = Buffer.alloc(size - offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        const { records, rest } = splitRecords(carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead));
        carry = rest;
        for (const rec of records) yield* emit(parseCriRecord(rec));
        if (!settled || bytesRead < buf.length) continue;
      }
      if (fh && !settled) {
        // Drained: if the name now stands for another file (rotated), go on with that one.
        const st = await stat(path).catch(() => undefined);
        if (st && st.ino !== ino) {
          await fh.close();
          fh = undefined;
          watcher?.close();
          watcher = undefined;
          continue;
        }
      }
      if (!opts.follow || finished) {
        yield* finish();
        return;
      }
      yield* flush();
      if (fh && !watcher) {
        try {
          watcher = watch(path, { persistent: false }, () => { changed = true; wake?.(); });
          watcher.on('error', () => { watcher?.close(); });
        } catch {
          // No inotify (a limit reached, an odd file system): polling alone still works.
        }
      }
      if (!changed) await nap(POLL_MS, opts.signal, (w) => { wake = w; });
    }
  } finally {
    watcher?.close();
    await fh?.close();
  }
}

/** Sleeps `ms`, or until `setWake`'s function is called; rejects when the signal aborts. */
function nap(ms: number, signal: AbortSignal | undefined, setWake: (wake: (() => void) | undefined) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      clearTimeout(timer);
      setWake(undefined);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    // As timers/promises' sleep() rejects: an AbortError whose cause is the signal's reason.
    const onAbort = () => done(Object.assign(new Error('The operation was aborted', { cause: signal!.reason }), { name: 'AbortError', code: 'ABORT_ERR' }));
    const timer = setTimeout(done, ms);
    setWake(() => done());
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Largest log read synchronously (an exited container's, {@link readSmallSync}): about a millisecond of reading. */
const SYNC_READ_MAX = 1 << 20;

/**
 * A settled log of at most {@link SYNC_READ_MAX} bytes, read synchronously (empty when it cannot be opened, as the
 * asynchronous read treats it); undefined when it is larger or not a regular file (the asynchronous read's case).
 * Opened non-blocking: a FIFO in its place must not block the thread.
 */
function readSmallSync(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch {
    return NO_BYTES;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > SYNC_READ_MAX) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

async function readWhole(path: string): Promise<Buffer | undefined> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try { return await fh.readFile(); } finally { await fh.close(); }
}

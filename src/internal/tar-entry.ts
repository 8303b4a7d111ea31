import type { Pack } from 'tar-stream';

type EntryHeader = Parameters<Pack['entry']>[0];

/** One entry of a tar-stream pack: the sink to write a streamed file into, and when the pack has taken the entry. */
export interface TarEntry {
  readonly sink: ReturnType<Pack['entry']>;
  /** Resolves when the entry is in the archive; rejects with the entry's or the pack's failure. */
  readonly done: Promise<void>;
}

/**
 * Adds an entry to `pack` (with `content` for a whole file, else the sink is written and ended by the caller).
 * tar-stream destroys every open entry with the pack's error when the pack goes down (its output's disk full, its
 * reader gone): that error reaches `done`, and the entry's own `'error'` event, emitted whether anyone listens or not,
 * must not become an uncaught exception that ends the test process (CI: ENOSPC in a build layer's write).
 */
export function tarEntry(pack: Pack, header: EntryHeader, content?: Buffer): TarEntry {
  let settle!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => { settle = (err) => (err ? reject(err) : resolve()); });
  const sink = content === undefined ? pack.entry(header, settle) : pack.entry(header, content, settle);
  sink.on('error', () => {});
  done.catch(() => {});
  return { sink, done };
}

const NO_DATA: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: async () => ({ value: undefined, done: true as const }) }) };

/**
 * The data of an entry read by tar-stream's `extract()`: none for a directory. tar-stream gives a directory no data
 * whatever its header's size says (the bytes after it are read as headers), and when that size is not 0 the entry's
 * stream never ends: every reader of it (a docker-archive pull, Dockerfile ADD of a tar, `copyArchiveToContainer`,
 * the engine's archive load) waited forever on one hostile directory header. Read this instead of the entry.
 */
export function entryData(entry: AsyncIterable<unknown> & { header: { type?: string | null } }): AsyncIterable<Buffer> {
  return entry.header.type === 'directory' ? NO_DATA : (entry as AsyncIterable<Buffer>);
}

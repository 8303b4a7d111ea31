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

import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { SlipwayError } from '../errors.js';
import type { CopiedEntry } from './runtime-container.js';

/**
 * A tar stream of entries copied out of a container (like `docker cp` to stdout). Names are the
 * entries' `relPath` (the copied name first). The stream is pull-driven: `entries` is read only
 * while the stream is read, and a failure (the container removed meanwhile, a name tar cannot
 * carry) reaches the stream's consumer only, as its `error` — never an unhandled event from a stream
 * nobody reads. Entries whose names or link targets are not UTF-8 are refused with
 * `ERR_COPY_UNSAFE_PATH` (tar-stream writes names as UTF-8, so two names would become one).
 * @example pipeline(tarOfEntries(rt.copyOut('/etc'), '/etc'), createWriteStream('etc.tar'))
 */
export function tarOfEntries(entries: AsyncIterable<CopiedEntry>, source: string): Readable {
  return Readable.from(tarChunks(entries, source), { objectMode: false });
}

async function* tarChunks(entries: AsyncIterable<CopiedEntry>, source: string): AsyncGenerator<Buffer> {
  const pack = tar.pack();
  // Errors end the iteration below, which hands them to the consumer; this listener only keeps
  // the inner stream's own 'error' event from being unhandled.
  pack.on('error', () => {});
  let stopped = false;
  void (async () => {
    for await (const e of entries) {
      if (stopped) return;
      const name = text(e.relPath, e.path, source);
      const header = { name, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime ?? new Date() };
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error | null) => (err ? reject(err) : resolve());
        if (e.type === 'directory') pack.entry({ ...header, type: 'directory' }, done);
        else if (e.type === 'symlink') pack.entry({ ...header, type: 'symlink', linkname: text(e.linkBytes, e.linkTarget ?? '', source) }, done);
        else pack.entry({ ...header, type: 'file' }, e.content ?? Buffer.alloc(0), done);
      });
    }
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  try {
    for await (const chunk of pack as AsyncIterable<Buffer>) yield chunk;
  } finally {
    stopped = true;
    pack.destroy();
  }
}

function text(bytes: Buffer | undefined, fallback: string, source: string): string {
  if (bytes === undefined) return fallback;
  if (isUtf8(bytes)) return bytes.toString('utf8');
  throw new SlipwayError('ERR_COPY_UNSAFE_PATH', `cannot put ${JSON.stringify(bytes.toString('latin1'))} (below ${source}) in a tar stream: the name is not UTF-8`, {
    hint: 'copy to a host directory instead (copyFrom(path, hostDir) keeps names as bytes), or rename it in the container',
  });
}

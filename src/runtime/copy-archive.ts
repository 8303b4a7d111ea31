import { isUtf8 } from 'node:buffer';
import { posix } from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { SlipwayError } from '../errors.js';
import { entryData, tarEntry, type TarEntry } from '../internal/tar-entry.js';
import type { CopiedEntry, CopyEntry } from './runtime-container.js';

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
      if (e.type === 'directory') await tarEntry(pack, { ...header, type: 'directory' }).done;
      else if (e.type === 'symlink') await tarEntry(pack, { ...header, type: 'symlink', linkname: text(e.linkBytes, e.linkTarget ?? '', source) }).done;
      else if (!e.contentStream) await tarEntry(pack, { ...header, type: 'file' }, e.content ?? Buffer.alloc(0)).done;
      else {
        const { sink, done } = tarEntry(pack, { ...header, type: 'file', size: e.size ?? 0 });
        await Promise.all([streamEntry(sink, e.contentStream), done]);
      }
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

/** Writes a large file's chunks into its tar entry as the archive's reader takes them. */
async function streamEntry(entry: TarEntry['sink'], chunks: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of chunks) if (!entry.write(chunk)) await once(entry, 'drain');
  entry.end(undefined);
}

function text(bytes: Buffer | undefined, fallback: string, source: string): string {
  if (bytes === undefined) return fallback;
  if (isUtf8(bytes)) return bytes.toString('utf8');
  throw new SlipwayError('ERR_COPY_UNSAFE_PATH', `cannot put ${JSON.stringify(bytes.toString('latin1'))} (below ${source}) in a tar stream: the name is not UTF-8`, {
    hint: 'copy to a host directory instead (copyFrom(path, hostDir) keeps names as bytes), or rename it in the container',
  });
}

/**
 * The entries of a tar archive extracted at container directory `target` (as `docker cp - <target>` and Docker's
 * put-archive do): names are taken relative to `target` (a leading `./` or `/` is dropped), `..` segments are refused
 * with `ERR_COPY_UNSAFE_PATH`, hard links become copies of the file they name (its content and mode), and every entry is owned by `owner`, else
 * by the uid/gid its header names (as Docker keeps them).
 * Regular files, directories and symlinks only: device nodes and FIFOs are refused with `ERR_UNSUPPORTED`.
 * @example await rt.copyIn(entriesOfArchive(tarBuffer, '/opt/app', { uid: 0, gid: 0 }))
 */
export async function entriesOfArchive(archive: Buffer, target: string, owner?: { uid: number; gid: number }): Promise<CopyEntry[]> {
  const out: CopyEntry[] = [];
  const files = new Map<string, { content: Buffer; mode: number }>();
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const chunks: Buffer[] = [];
      for await (const c of entryData(entry)) chunks.push(c);
      const rel = archivePath(h.name);
      if (rel === '') continue; // "./": the target itself, which keeps its own mode
      const path = posix.join(target, rel);
      const base = { path, uid: owner?.uid ?? h.uid ?? 0, gid: owner?.gid ?? h.gid ?? 0, mtime: h.mtime };
      const mode = (h.mode ?? 0o644) & 0o7777;
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const content = Buffer.concat(chunks);
        files.set(rel, { content, mode });
        out.push({ ...base, type: 'file', mode, content });
      } else if (h.type === 'directory') {
        out.push({ ...base, type: 'directory', mode: (h.mode ?? 0o755) & 0o7777 });
      } else if (h.type === 'symlink') {
        out.push({ ...base, type: 'symlink', mode: 0o777, linkTarget: h.linkname ?? '' });
      } else if (h.type === 'link') {
        const linked = files.get(archivePath(h.linkname ?? ''));
        if (!linked) throw new SlipwayError('ERR_UNPACK', `archive entry ${h.name} is a hard link to ${h.linkname}, which is not a file earlier in the archive`);
        out.push({ ...base, type: 'file', mode: linked.mode, content: linked.content });
      } else {
        throw new SlipwayError('ERR_UNSUPPORTED', `archive entry ${h.name} is a ${h.type}: only files, directories, symlinks and hard links can be copied into a container`, {
          hint: 'create device nodes and FIFOs from the container process instead (mknod, mkfifo)',
        });
      }
    }
  })();
  extract.end(archive);
  await done;
  return out;
}

function archivePath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || name.includes('\0')) {
    throw new SlipwayError('ERR_COPY_UNSAFE_PATH', `archive entry ${JSON.stringify(name)} leaves the target directory`, { hint: 'build the archive with paths relative to the target, without ".."' });
  }
  return parts.join('/');
}

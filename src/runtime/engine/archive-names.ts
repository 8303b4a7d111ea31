/**
 * A `docker-archive:` file as the engine loads it for a start or `pull()`: without the names the archive gives itself.
 * `docker load` tags the image with the archive's own `RepoTags` (`manifest.json`), `repositories` and, on a
 * containerd store, `index.json`'s name annotations, whatever they say: a hostile archive named itself `postgres:16`
 * and every later start of `postgres:16` on that engine (pull policy `missing`) ran it. Natively the archive is only
 * ever `docker-archive:<file>` (image/pull.ts), and so it is here: the names are removed on the way to the engine,
 * which then answers `Loaded image ID: sha256:…`.
 */
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import { SlipwayError } from '../../errors.js';
import { entryData, tarEntry } from '../../internal/tar-entry.js';

/** manifest.json and index.json are read whole: a docker save of hundreds of images stays far below this. */
const MAX_INDEX_BYTES = 4 << 20;

const NAMED = new Set(['manifest.json', 'index.json', 'repositories']);

function hostile(file: string, why: string): SlipwayError {
  return new SlipwayError('ERR_MANIFEST_INVALID', `docker archive ${file}: ${why}`, {
    hint: 'load archives written by docker save or exportImage(); this one was made to be read differently by the engine',
  });
}

/** The entry's name as the engine's extraction places it (relative, `./` and `a/../` folded). */
function placed(file: string, name: string): string {
  const n = posix.normalize(name).replace(/^\/+/, '').replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../')) throw hostile(file, `entry ${JSON.stringify(name)} points out of the archive`);
  return n === '.' ? '' : n;
}

/** `manifest.json` with every image's `RepoTags` cleared. */
function unnamedManifest(file: string, bytes: Buffer): Buffer {
  let m: unknown;
  try { m = JSON.parse(bytes.toString('utf8')); } catch (e) { throw hostile(file, `manifest.json is not valid JSON: ${(e as Error).message}`); }
  if (!Array.isArray(m)) throw hostile(file, 'manifest.json is not a list of images');
  return Buffer.from(JSON.stringify(m.map((img: unknown) => (img && typeof img === 'object' ? { ...img, RepoTags: null } : img))));
}

/** `index.json` without the annotations a containerd store names images by. */
function unnamedIndex(file: string, bytes: Buffer): Buffer {
  let idx: { manifests?: { annotations?: Record<string, string> }[] };
  try { idx = JSON.parse(bytes.toString('utf8')) as typeof idx; } catch (e) { throw hostile(file, `index.json is not valid JSON: ${(e as Error).message}`); }
  if (!idx || typeof idx !== 'object') throw hostile(file, 'index.json is not an image index');
  const manifests = Array.isArray(idx.manifests) ? idx.manifests.map((d) => {
    if (!d || typeof d !== 'object' || !d.annotations) return d;
    const { 'io.containerd.image.name': _n, 'org.opencontainers.image.ref.name': _r, ...annotations } = d.annotations;
    return { ...d, annotations };
  }) : idx.manifests;
  return Buffer.from(JSON.stringify({ ...idx, manifests }));
}

async function readWhole(file: string, name: string, stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > MAX_INDEX_BYTES) throw hostile(file, `${name} is larger than ${MAX_INDEX_BYTES} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * The tar of `file` with the names removed (see the module comment), streamed: layers pass through as they are.
 * Links are refused where they would let the engine read a name file elsewhere (a `manifest.json` that is a link, or
 * any entry under a link: `d -> .` then `d/manifest.json`).
 * @returns a stream of the rewritten tar; it fails with `ERR_MANIFEST_INVALID` for such an archive
 */
export function archiveWithoutNames(file: string): Readable {
  const ex = tarExtract();
  const out = tarPack();
  const links = new Set<string>();
  const rewrite = async (): Promise<void> => {
    for await (const entry of ex) {
      const h = entry.header;
      const name = placed(file, h.name);
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        if (links.has(parts.slice(0, i).join('/'))) throw hostile(file, `entry ${JSON.stringify(h.name)} lies under a link`);
      }
      if (h.type === 'symlink' || h.type === 'link') {
        if (NAMED.has(name)) throw hostile(file, `${name} is a link`);
        links.add(name);
      }
      if (name === 'repositories' && h.type === 'file') {
        for await (const _ of entry) void _;
        continue;
      }
      if ((name === 'manifest.json' || name === 'index.json') && h.type === 'file') {
        const bytes = await readWhole(file, name, entry as unknown as AsyncIterable<Buffer>);
        const body = name === 'manifest.json' ? unnamedManifest(file, bytes) : unnamedIndex(file, bytes);
        await tarEntry(out, { ...h, size: body.length }, body).done;
        continue;
      }
      // A directory has no data, whatever its header says (tar-stream never ends such an entry's stream).
      const { sink, done } = tarEntry(out, h.type === 'directory' ? { ...h, size: 0 } : h);
      await Promise.all([pipeline(Readable.from(entryData(entry)), sink), done]);
    }
    out.finalize();
  };
  // The engine reads a Node stream; tar-stream's (streamx) pack feeds it and is torn down without an error of its own.
  const body = new PassThrough();
  out.on('error', () => {});
  const fed = pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), ex);
  Promise.all([fed, rewrite(), pipeline(out, body)]).catch((e: unknown) => {
    ex.destroy();
    out.destroy();
    body.destroy(SlipwayError.is(e) ? e : hostile(file, `not a valid tar: ${(e as Error).message}`));
  });
  return body;
}

/**
 * A build context as the tar `docker build` sends to an engine: every file not excluded by `.dockerignore`
 * (moby/patternmatcher rules, build/dockerignore.ts), owners 0:0, modes and symlinks as they are, files streamed
 * one at a time (never held whole). The Dockerfile and `.dockerignore` are always sent, as the docker CLI does; a
 * Dockerfile outside the context is sent under a name of its own.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import { SlipwayError } from '../errors.js';
import { tarEntry } from '../internal/tar-entry.js';
import { isIgnored, mayReinclude, parseDockerignore, readDockerignore, type IgnorePattern } from './dockerignore.js';

/** The context's tar and the Dockerfile's name inside it. */
export interface ContextTar {
  /** tar-stream's pack (a streamx Readable: undici and `pipeline` read it as a Node stream). */
  tar: Readable;
  dockerfile: string;
}

/**
 * Starts packing `contextDir` (the caller reads `tar`; a failure destroys it with a `SlipwayError`).
 * @param dockerfile - The Dockerfile's path relative to the context (may lead out of it). @defaultValue `Dockerfile`
 * @throws SlipwayError `ERR_BUILD_CONTEXT` when the context is not a directory.
 */
export async function contextTar(contextDir: string, dockerfile = 'Dockerfile'): Promise<ContextTar> {
  const root = path.resolve(contextDir);
  const st = await lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new SlipwayError('ERR_BUILD_CONTEXT', `the build context ${root} is not a directory`, { hint: 'pass the directory that holds the Dockerfile and the files it copies' });
  }
  const ignore = parseDockerignore(await readDockerignore(root));
  const dfAbs = path.resolve(root, dockerfile);
  const dfRel = path.relative(root, dfAbs);
  const outside = dfRel.startsWith('..') || path.isAbsolute(dfRel);
  const dfName = outside ? `.slipway-dockerfile-${process.pid}` : dfRel.split(path.sep).join('/');
  const always = new Set([dfName, '.dockerignore']);
  const tar = tarPack();
  void (async () => {
    await walk(tar, root, '', ignore, always);
    if (outside) await addFile(tar, dfAbs, dfName);
    tar.finalize();
  })().catch((err: unknown) => {
    tar.destroy(SlipwayError.is(err) ? err : new SlipwayError('ERR_BUILD_CONTEXT', `reading the build context ${root}: ${(err as Error).message}`, { cause: err }));
  });
  return { tar: tar as unknown as Readable, dockerfile: dfName };
}

async function walk(tar: Pack, root: string, rel: string, ignore: readonly IgnorePattern[], always: ReadonlySet<string>): Promise<void> {
  const names = (await readdir(path.join(root, rel))).sort();
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = path.join(root, r);
    const st = await lstat(abs);
    const ignored = isIgnored(ignore, r) && !always.has(r);
    if (st.isDirectory()) {
      if (!ignored) await tarEntry(tar, { name: `${r}/`, type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 }).done;
      if (!ignored || mayReinclude(ignore, r)) await walk(tar, root, r, ignore, always);
    } else if (ignored) {
      continue;
    } else if (st.isSymbolicLink()) {
      await tarEntry(tar, { name: r, type: 'symlink', linkname: await readlink(abs), mode: 0o777, mtime: st.mtime, uid: 0, gid: 0 }).done;
    } else if (st.isFile()) {
      await addFile(tar, abs, r);
    }
    // Sockets, FIFOs and devices are left out, as the docker CLI leaves them.
  }
}

async function addFile(tar: Pack, abs: string, name: string): Promise<void> {
  const st = await lstat(abs);
  const entry = tarEntry(tar, { name, type: 'file', size: st.size, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 });
  await pipeline(createReadStream(abs), entry.sink);
  await entry.done;
}

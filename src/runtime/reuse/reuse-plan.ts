/**
 * A launch plan as it travels to the reuse keeper (JSON over its socket), and the reuse key: the hash of everything
 * that makes the container what it is. Two starts share a container only when their keys match and so do the
 * canonical texts the keys hash (a collision cannot hand a container to a different configuration).
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { hashFileInto } from '../../internal/hash-file.js';
import { isAbsolute, join, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import type { BindMount, FileCopy, LaunchPlan, TmpfsMount } from '../launch-plan.js';

/** A {@link FileCopy} in JSON: contents as base64, a host source as an absolute path. */
export interface WireFile extends Omit<FileCopy, 'content' | 'archive'> {
  content?: string;
  archive?: string;
}

/** A {@link LaunchPlan} in JSON, plus what the API adds that identifies the container (labels) or the stop timeout. */
export interface WirePlan extends Omit<LaunchPlan, 'mounts' | 'files' | 'networks'> {
  mounts: (BindMount | TmpfsMount)[];
  files: WireFile[];
  labels: Record<string, string>;
  /** ms the reuse keeper waits after the stop signal when it stops the container. */
  stopTimeout: number;
}

/**
 * The plan as JSON for the reuse keeper. Relative host paths are resolved here (the keeper runs elsewhere).
 * @throws SlipwayError `ERR_UNSUPPORTED` for user networks and volumes: they belong to this process and go with it.
 */
export function toWirePlan(plan: LaunchPlan & { labels?: Readonly<Record<string, string>>; stopTimeout?: number }, cwd = process.cwd()): WirePlan {
  if (plan.networks.length > 0) {
    throw new SlipwayError('ERR_UNSUPPORTED', `a container kept for reuse across runs cannot join user networks (${plan.networks.map((n) => n.network.name).join(', ')})`, {
      hint: 'user networks belong to the process that made them: drop withReuse(), or publish ports instead of joining a network',
    });
  }
  const volume = plan.mounts.find((m) => m.kind === 'volume');
  if (volume) {
    throw new SlipwayError('ERR_UNSUPPORTED', `a container kept for reuse across runs cannot mount a volume (at ${volume.target})`, {
      hint: 'volumes belong to the process that made them: drop withReuse(), or use withBind() with a host directory',
    });
  }
  // What only the API reads (how to wait, whether to reuse) is the caller's business, not the container's.
  const { networks: _n, mounts, files, labels, stopTimeout, waitStrategy: _w, startupTimeout: _t, reuse: _r, snapshot: _sn, ...rest } = plan as typeof plan & Record<string, unknown>;
  return {
    ...rest,
    mounts: mounts.map((m) => (m.kind === 'bind' ? { ...m, source: resolve(cwd, m.source) } : { ...m })) as (BindMount | TmpfsMount)[],
    files: files.map((f) => ({
      ...f,
      content: f.content?.toString('base64'),
      archive: f.archive?.toString('base64'),
      source: f.source === undefined ? undefined : resolve(cwd, f.source),
    })),
    labels: { ...(labels ?? {}) },
    stopTimeout: stopTimeout ?? 10_000,
  };
}

/** The plan the reuse keeper launches from a {@link WirePlan}. */
export function fromWirePlan(w: WirePlan): LaunchPlan {
  const { files, labels: _l, stopTimeout: _s, ...rest } = w;
  return {
    ...rest,
    networks: [],
    files: files.map((f) => ({
      ...f,
      content: f.content === undefined ? undefined : Buffer.from(f.content, 'base64'),
      archive: f.archive === undefined ? undefined : Buffer.from(f.archive, 'base64'),
    })),
  };
}

/**
 * The canonical text of what makes the container: the user, the image as resolved (digest and platform manifest, so a
 * new image under the same tag gives a new container), and every plan field but how to pull and how long to wait for a
 * boot or a stop; files copied from the host by their content. Keys are sorted, so the order of `withEnv` calls does not matter.
 */
export async function reuseIdentity(w: WirePlan, image: { digest: string; manifestDigest: string }, uid = process.getuid!()): Promise<{ key: string; canonical: string }> {
  const { pullPolicy: _p, pullTimeout: _t, stopTimeout: _s, bootTimeout: _b, files, ...rest } = w;
  const hashedFiles = await Promise.all(files.map(async (f) => {
    if (f.source === undefined) return f;
    if (!isAbsolute(f.source)) throw new SlipwayError('ERR_INVALID_ARGUMENT', `copy source ${f.source} is not absolute`, { hint: 'internal: sources are resolved by the client' });
    return { ...f, source: f.source, sourceTree: await treeHash(f.source) };
  }));
  const canonical = stableJson({ v: 1, uid, image: { digest: image.digest, manifest: image.manifestDigest }, plan: { ...rest, files: hashedFiles } });
  return { key: createHash('sha256').update(canonical).digest('hex'), canonical };
}

/** A hash of a host file or directory tree: names, types, modes, contents, link targets (never following links). */
async function treeHash(path: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (p: string, rel: string): Promise<void> => {
    const st = await lstat(p).catch((cause: NodeJS.ErrnoException) => {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `copy source ${path}: ${cause.code ?? cause.message}`, { cause, hint: 'create the host path first' });
    });
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(`l${await readlink(p)}\0`);
    else if (st.isFile()) {
      const content = createHash('sha256');
      await hashFileInto(content, p);
      h.update(content.digest('hex'));
    }
    else if (st.isDirectory()) for (const name of (await readdir(p)).sort()) await walk(join(p, name), `${rel}/${name}`);
    h.update('\n');
  };
  await walk(path, '.');
  return h.digest('hex');
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      return Object.fromEntries(Object.entries(x as Record<string, unknown>).filter(([, y]) => y !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return x;
  });
}

/**
 * Snapshots of initialised services (`Container.withSnapshot`): the key of a configuration, finding or building its
 * snapshot under the store lock, and the quiesce + commit of a first start. The start flow itself is in `start.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink } from 'node:fs/promises';
import { hashFileInto } from '../internal/hash-file.js';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { chainIds } from '../image/manifest.js';
import { ImageStore, defaultStoreRoot, type Lock } from '../image/store.js';
import { SnapshotStore, snapshotKey, type SnapshotRecord } from '../image/snapshot-store.js';
import type { Image } from '../image/pull.js';
import { removeTree, resolveImage, type FileCopy, type RuntimeContainer } from '../runtime/index.js';
import type { ContainerOptions } from './container-options.js';
import type { StartedContainer } from './started-container.js';

/** What `start()` needs to know before launching a container with a snapshot. */
export interface SnapshotPlan {
  image: Image;
  key: string;
  store: ImageStore;
  snapshots: SnapshotStore;
  /** The complete snapshot, when one exists (start from it). */
  record?: SnapshotRecord;
  /** Held when no snapshot exists: this start builds it (others wait on it). Release after. */
  lock?: Lock;
  /** When building: the store dir where the first start's writable layer is made (see `LaunchPlan.upperParent`). */
  upperParent?: string;
  mappingKey: string;
}

/**
 * Resolves the image, computes the key and finds the snapshot; without one, takes the key's store lock (waiting for
 * another process that builds it) and looks again.
 */
export async function planSnapshot(options: ContainerOptions, signal?: AbortSignal): Promise<SnapshotPlan> {
  const { image, mappingKey } = await resolveImage(options, signal);
  const root = defaultStoreRoot();
  const store = await checkedStore(root);
  const snapshots = new SnapshotStore(store);
  const key = snapshotKey({
    imageDigest: image.manifestDigest,
    chainId: image.layers.at(-1)?.chainId ?? '',
    mappingKey,
    env: options.env,
    command: options.command,
    entrypoint: options.entrypoint,
    user: options.user,
    workdir: options.workdir,
    files: await Promise.all(options.files.map(fileDigest)),
    mounts: options.mounts.map((m) => `${m.kind}:${m.target}`),
    salt: options.snapshot ? options.snapshot.salt : undefined,
  });
  const found = await snapshots.find(mappingKey, key);
  if (found) return { image, key, store, snapshots, record: found, mappingKey };
  // Building: a store made ready now (its dirs made again should they have been removed since, dead leftovers swept).
  const fresh = newStore(root);
  await fresh.init();
  const freshSnapshots = new SnapshotStore(fresh);
  const lock = await freshSnapshots.lock(key, signal);
  try {
    const record = await freshSnapshots.find(mappingKey, key);
    if (record) {
      lock.release();
      return { image, key, store: fresh, snapshots: freshSnapshots, record, mappingKey };
    }
    // The first start's upper dir is made in the store, beside the layers: it becomes the snapshot layer by a rename
    // (no copy, and no read of files the service made private: rootless, Node could not read a 0700 data dir).
    const upperParent = fresh.tempPath('snapshot_upper');
    await mkdir(upperParent, { mode: 0o700 });
    return { image, key, store: fresh, snapshots: freshSnapshots, lock, upperParent, mappingKey };
  } catch (e) {
    lock.release();
    throw e;
  }
}

// Rootless, leftovers of a killed first start belong to the container's ids: the sweep removes them through the keeper.
const newStore = (root: string) => new ImageStore(root, { removeTree });

/**
 * The store of `root`, checked (ours, 0700, its dirs made, dead leftovers swept) once per process: a start from a
 * snapshot only reads it. Each start used to check and sweep it again: 0.35–0.5 ms of the ~60 ms to a ready Postgres.
 */
const checked = new Map<string, Promise<ImageStore>>();
function checkedStore(root: string): Promise<ImageStore> {
  let p = checked.get(root);
  if (!p) {
    const store = newStore(root);
    p = store.init().then(() => store);
    p.catch(() => checked.delete(root));
    checked.set(root, p);
  }
  return p;
}

/**
 * Makes the snapshot of a ready first start: the `prepare` and `quiesce` hooks, the stop signal, a check that the
 * service exited cleanly, then its upper dir as a snapshot layer and the record (last). Does not start it again.
 * @throws SlipwayError `ERR_SNAPSHOT` when the service did not exit with code 0 (nothing is stored)
 */
export async function makeSnapshot(started: StartedContainer, rt: RuntimeContainer, options: ContainerOptions, plan: SnapshotPlan, signal?: AbortSignal): Promise<SnapshotRecord> {
  const hooks = options.snapshot || {};
  await hooks.prepare?.(started);
  await hooks.quiesce?.(started);
  if (rt.hasExited()) {
    const e = await rt.exited();
    throw new SlipwayError('ERR_SNAPSHOT', `container ${rt.name} (${options.image}) exited before its snapshot was made (${how(e)})`, {
      hint: 'a service that exits on its own cannot be snapshotted; start it without withSnapshot()',
    });
  }
  const exit = await rt.stop(options.stopTimeout);
  if (exit.exitCode !== 0 || exit.signal) {
    throw new SlipwayError('ERR_SNAPSHOT', `container ${rt.name} (${options.image}) did not shut down cleanly for its snapshot (${how(exit)}): its files may be inconsistent, so no snapshot was made`, {
      hint: 'give the signal it shuts down cleanly on (withStopSignal), a quiesce hook, a longer stop timeout, or start it without withSnapshot()',
    });
  }
  signal?.throwIfAborted();
  // The stopped container's upper dir is already a layer in the store's format (overlay whiteouts and opaque
  // markers, owners mapped as the keeper maps them): it is renamed into place, its marker and then the record last.
  // Its id is not a tar digest (a snapshot layer is only ever mounted, never exported), and unique per build, so a
  // rebuilt snapshot never meets a half-written one.
  const upper = join(plan.upperParent!, 'upper');
  const diffId = `sha256:${createHash('sha256').update(`${plan.key}\0${randomBytes(16).toString('hex')}`).digest('hex')}`;
  const chainId = chainIds([...plan.image.layers.map((l) => l.diffId), diffId]).pop()!;
  const size = await treeSize(upper);
  await plan.store.commitLayer(upper, plan.mappingKey, chainId);
  const record: SnapshotRecord = {
    key: plan.key, mappingKey: plan.mappingKey, chainId, diffId, size,
    image: options.image, imageDigest: plan.image.manifestDigest, created: new Date().toISOString(),
  };
  await plan.snapshots.write(record);
  return record;
}

/** Bytes of the regular files of a tree, as far as this process may read it (rootless, a service's private dirs are not). */
async function treeSize(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += await treeSize(p);
    else if (e.isFile()) n += (await lstat(p).catch(() => undefined))?.size ?? 0;
  }
  return n;
}

function how(e: { exitCode: number | null; signal: string | null }): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.exitCode}`;
}

/** A file copied in before start, as a digest: target, mode, owner and content (a host tree: names, modes, bytes, links). */
export async function fileDigest(f: FileCopy): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify([f.target, f.mode ?? null, f.owner ?? null, f.ownerOfProcess ?? false]));
  if (f.content) h.update('content\0').update(f.content);
  if (f.archive) h.update('archive\0').update(f.archive);
  if (f.source) await hashTree(h, f.source, '');
  return h.digest('hex');
}

async function hashTree(h: ReturnType<typeof createHash>, path: string, rel: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) {
    h.update(`missing\0${rel}\0`);
    return;
  }
  h.update(`${rel}\0${st.mode}\0`);
  if (st.isSymbolicLink()) h.update(`${await readlink(path)}\0`);
  else if (st.isFile()) await hashFileInto(h, path);
  else if (st.isDirectory()) {
    for (const n of (await readdir(path)).sort()) await hashTree(h, join(path, n), `${rel}/${n}`);
  }
}

/**
 * Snapshot records in the store (`snapshots/<mapping>/<key>.json`): which unpacked layer (`layers/<mapping>/<chain>`)
 * holds the initialised state of a service started with a given image and configuration (`Container.withSnapshot`).
 * The record is written last, after the layer and its marker: a snapshot without a record, or whose layer lost its
 * marker (a commit killed half-way), is not used, and the next first start builds it again.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { MAPPING_KEY_RE, type ImageStore, type Lock } from './store.js';

/** What a snapshot's key is made of: any change gives another snapshot. */
export interface SnapshotKeyInput {
  /** The image's manifest digest and the chain id of its top layer (the lowers the snapshot was made on). */
  imageDigest: string;
  chainId: string;
  /** The keeper's id-mapping key: layers are stored owned per mapping. */
  mappingKey: string;
  env: Readonly<Record<string, string>>;
  command?: readonly string[];
  entrypoint?: readonly string[];
  user?: string;
  workdir?: string;
  /** Digests of the files copied in before start, in order (see `fileDigest`). */
  files: readonly string[];
  /** Mount targets (a bind or volume over a path keeps its data out of the snapshot). */
  mounts: readonly string[];
  /** The user's (or module's) salt. */
  salt?: string;
}

/** The snapshot's key: sha256 of the inputs in a fixed order (env sorted by name). */
export function snapshotKey(k: SnapshotKeyInput): string {
  const canonical = JSON.stringify([
    'slipway-snapshot-v1', k.imageDigest, k.chainId, k.mappingKey,
    Object.entries(k.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    k.command ?? null, k.entrypoint ?? null, k.user ?? null, k.workdir ?? null, k.files, k.mounts, k.salt ?? null,
  ]);
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** One complete snapshot. */
export interface SnapshotRecord {
  key: string;
  mappingKey: string;
  /** The layer (chain id over the image's layers) and its diff id and size. */
  chainId: string;
  diffId: string;
  size: number;
  /** The image reference and manifest digest it was made from. */
  image: string;
  imageDigest: string;
  /** ISO time it was made. */
  created: string;
}

const HEX_KEY = /^sha256:([a-f0-9]{64})$/;

/** The snapshot records of one store. */
export class SnapshotStore {
  constructor(readonly store: ImageStore) {}

  #dir(mappingKey: string): string {
    if (!MAPPING_KEY_RE.test(mappingKey)) throw new TypeError(`invalid mappingKey ${JSON.stringify(mappingKey)}`);
    return path.join(this.store.root, 'snapshots', mappingKey);
  }

  #file(mappingKey: string, key: string): string {
    const m = HEX_KEY.exec(key);
    if (!m) throw new TypeError(`not a snapshot key: ${key}`);
    return path.join(this.#dir(mappingKey), `${m[1]}.json`);
  }

  /** The layer dir of a record. */
  layerDir(r: Pick<SnapshotRecord, 'mappingKey' | 'chainId'>): string {
    return this.store.layerDir(r.mappingKey, r.chainId);
  }

  /** The complete snapshot of `key`: its record names a layer that is in place with its marker; else undefined. */
  async find(mappingKey: string, key: string): Promise<SnapshotRecord | undefined> {
    let r: SnapshotRecord;
    try {
      r = JSON.parse(await readFile(this.#file(mappingKey, key), 'utf8')) as SnapshotRecord;
    } catch {
      return undefined;
    }
    if (r.key !== key || r.mappingKey !== mappingKey || typeof r.chainId !== 'string' || !HEX_KEY.test(r.chainId)) return undefined;
    return (await this.store.layerReady(mappingKey, r.chainId)) ? r : undefined;
  }

  /** Writes the record (last: the layer and its marker are in place). */
  async write(r: SnapshotRecord): Promise<void> {
    await this.store.writeAtomic(this.#file(r.mappingKey, r.key), JSON.stringify(r, null, 1));
  }

  /** The cross-process lock under which a snapshot of `key` is built (others wait, then use it). */
  lock(key: string, signal?: AbortSignal): Promise<Lock> {
    return this.store.lock(`snapshot-${key.slice(7, 39)}`, signal);
  }

  /** Every record (complete or not: `complete` says whether its layer is in place). */
  async list(): Promise<(SnapshotRecord & { complete: boolean; file: string })[]> {
    const root = path.join(this.store.root, 'snapshots');
    const out: (SnapshotRecord & { complete: boolean; file: string })[] = [];
    for (const mapping of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(root, mapping)).catch(() => [] as string[])) {
        if (!name.endsWith('.json')) continue;
        const file = path.join(root, mapping, name);
        try {
          const r = JSON.parse(await readFile(file, 'utf8')) as SnapshotRecord;
          if (typeof r.key !== 'string' || typeof r.chainId !== 'string' || r.mappingKey !== mapping) continue;
          out.push({ ...r, file, complete: await this.store.layerReady(r.mappingKey, r.chainId) });
        } catch {
          // a record being replaced, or not ours
        }
      }
    }
    return out.sort((a, b) => a.created.localeCompare(b.created));
  }

  /** Removes a record (its layer goes with the next `slipway prune`, unless another record or image uses it). */
  async remove(r: Pick<SnapshotRecord, 'mappingKey' | 'key'>): Promise<void> {
    await rm(this.#file(r.mappingKey, r.key), { force: true });
  }
}

/**
 * What `pull()` resolved from the store (policy `missing` or `never`), kept per process: a warm start then costs one
 * stat of the store's generation stamp and a few lstats of each layer's sample files, instead of `init()`'s
 * mkdirs and sweep, the reference record and every layer's marker read twice (1.5-3 ms of thread-pool round trips).
 *
 * An entry holds while the stamp is unchanged: any process that writes a reference or may remove a layer or
 * reference (pull, tag, build, commit, prune) bumps it first or after (`ImageStore.bumpGeneration`), so another
 * process's prune or re-tag is seen at the next start. The sample check is kept on every hit because a store
 * damaged by hand (an interrupted `rm -rf` of a layer) bumps nothing.
 */
import { samplesIntact, type ImageStore, type LayerSample } from './store.js';

interface Entry<T> {
  stamp: string;
  value: T;
  layers: { dir: string; samples: readonly LayerSample[] }[];
}

/** At most this many resolved references per process (oldest dropped first). */
const KEPT = 64;

/** A per-process map from (store, id mapping, reference key) to what was resolved, checked against the store on every get. */
export class ResolvedCache<T> {
  readonly #entries = new Map<string, Entry<T>>();

  /** A copy of the value kept for `key`, when the store's stamp is the one it was read under and its layers are intact. */
  get(store: ImageStore, mappingKey: string, key: string): T | undefined {
    const k = `${store.root}\0${mappingKey}\0${key}`;
    const e = this.#entries.get(k);
    if (!e) return undefined;
    if (store.generation() !== e.stamp || !e.layers.every((l) => samplesIntact(l.dir, l.samples))) {
      this.#entries.delete(k);
      return undefined;
    }
    // A copy: callers own what they get (a start adds to the config's env).
    return structuredClone(e.value);
  }

  /**
   * Keeps `value`, resolved from the store after `stamp` was read (so a change made meanwhile makes the entry stale,
   * never the other way round). Layers whose marker is gone are not kept (the next start checks them in full).
   */
  set(store: ImageStore, mappingKey: string, key: string, stamp: string | undefined, value: T, layers: readonly { chainId: string; dir?: string }[]): void {
    if (stamp === undefined) return;
    const checks: Entry<T>['layers'] = [];
    for (const l of layers) {
      const samples = l.dir ? store.layerSamples(mappingKey, l.chainId) : undefined;
      if (!samples) return;
      checks.push({ dir: l.dir!, samples });
    }
    const k = `${store.root}\0${mappingKey}\0${key}`;
    this.#entries.delete(k);
    this.#entries.set(k, { stamp, value: structuredClone(value), layers: checks });
    if (this.#entries.size > KEPT) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Forgets everything (tests). */
  clear(): void {
    this.#entries.clear();
  }
}

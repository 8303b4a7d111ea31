/**
 * `pull()`: resolves a reference (registry, `oci-layout:` directory or `docker-archive:` tarball) to an image
 * whose layers are unpacked in the store, ready to be stacked by overlayfs.
 */
import { constants as fsc, createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import path from 'node:path';
import { extract as tarExtract } from 'tar-stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { logger } from '../internal/debug.js';
import { entryData } from '../internal/tar-entry.js';
import { SlipwayError } from '../errors.js';
import { chainIds, parseImageConfig, parseManifest, type ContainerConfig, type Descriptor, type ImageConfigFile, type ImageManifest } from './manifest.js';
import { checkImagePlatform, hostPlatform, parsePlatform, platformString, selectPlatform, type Platform } from './platform.js';
import { DOCKER_HUB_DOMAIN, makeReference, parseReference, type ImageReference } from './reference.js';
import { RegistryClient, type RegistryClientOptions } from './registry-client.js';
import { positiveMs, withinPullLimit } from './timeouts.js';
import { ImageStore, defaultStoreRoot, isDiskFull, storeFullError } from './store.js';
import { unpackLayer, type ApplyOwnership } from './unpack.js';
import { unpackLayerThreaded } from './unpack-thread.js';
import { digestingBlobWriter, keepFileBlob, layerCompression, writeArchiveManifest, type KeptLayer } from './file-blobs.js';
import { ResolvedCache } from './resolved-cache.js';
import { loadConfig, type LoadedConfig } from '../config/index.js';

const debug = logger('image:pull');

/**
 * Pull policy: `missing` uses the cache when the image is there (works offline); `always` re-resolves the reference; `never` only uses the cache.
 * @example
 * import { Container, type PullPolicy } from 'slipway';
 * const policy: PullPolicy = process.env.CI ? 'always' : 'missing';
 * new Container('redis:7').withPullPolicy(policy);
 */
export type PullPolicy = 'missing' | 'always' | 'never';

/**
 * Progress of one layer, in compressed bytes.
 * @example
 * import { pull, type PullProgress } from 'slipway';
 * const seen = new Map<string, PullProgress>();
 * await pull('postgres:16', { onProgress: (p) => seen.set(p.layer, p) });
 * const total = [...seen.values()].reduce((n, p) => n + p.total, 0); // compressed bytes
 */
export interface PullProgress {
  /** The layer digest. */
  layer: string;
  current: number;
  total: number;
}

/** Options for {@link pull}. */
export interface PullOptions {
  /** @defaultValue the `pullPolicy` setting (`$SLIPWAY_PULL_POLICY`, a config file), else `'missing'` */
  policy?: PullPolicy;
  /** `os/arch[/variant]` or an object. @defaultValue the host's platform */
  platform?: string | Platform;
  onProgress?: (e: PullProgress) => void;
  signal?: AbortSignal;
  /**
   * Bounds the whole pull (every request, retry and unpack), in ms; `Infinity` for no bound. Each request also
   * has its own per-phase limits (`registry.timeouts`).
   * @defaultValue the `pullTimeout` setting (`$SLIPWAY_PULL_TIMEOUT`, a config file), else 600000 (10 minutes)
   * @example 120_000
   */
  timeout?: number;
  /**
   * Names the id mapping the unpacked layers are owned under (layers are stored per mapping, because
   * ownership differs). @defaultValue `'root'` as root, else `'uid<uid>'`
   */
  mappingKey?: string;
  /** Applies non-root ownership and setuid/setgid bits of each layer. @defaultValue lchown as root, skipped (with a debug note) otherwise */
  applyOwnership?: ApplyOwnership;
  /**
   * Removes a tree `rm -rf` cannot (rootless: files a killed pull already gave to subordinate ids), e.g.
   * the keeper's rmtree. Used when sweeping what dead pulls left in the store. @defaultValue none
   */
  removeTree?: (path: string) => Promise<void>;
  /**
   * Registries Docker Hub pulls go to first, in order (falling back to Hub), e.g. `mirror.gcr.io` or
   * `http://127.0.0.1:5000`. Paths keep `library/`. @defaultValue the `registryMirrors` setting (`$SLIPWAY_REGISTRY_MIRROR`, comma-separated, or a config file)
   */
  registryMirror?: string | string[];
  /**
   * A prefix that replaces Docker Hub for images named without a registry, like testcontainers'
   * `TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX`: with `registry.corp/hub`, `redis:7` is pulled as
   * `registry.corp/hub/redis:7`. @defaultValue the `hubImageNamePrefix` setting (`$SLIPWAY_HUB_IMAGE_NAME_PREFIX`,
   * `$TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX`, a config file, `hub.image.name.prefix` in `~/.testcontainers.properties`)
   */
  hubPrefix?: string;
  /** Registries spoken to over plain HTTP (loopback always is), besides the `insecureRegistries` setting (`$SLIPWAY_INSECURE_REGISTRIES`, a config file). */
  insecureRegistries?: string[];
  /** Store root. @defaultValue the `storeDir` setting (`$SLIPWAY_CACHE_DIR`, a config file), else `$XDG_CACHE_HOME/slipway` or `~/.cache/slipway` */
  storeDir?: string;
  /** Layers downloaded at once. @defaultValue 3 */
  concurrency?: number;
  /** Keep compressed blobs in the store (needed to re-unpack for another mapping offline). @defaultValue true */
  keepBlobs?: boolean;
  /** Advanced registry client options (retries, size limits, credentials, dispatcher). */
  registry?: Omit<RegistryClientOptions, 'insecureRegistries'>;
  /**
   * The compiled unpack worker script, or `null` to unpack on the calling thread.
   * @defaultValue `unpack-worker.js` beside this module when present (the built package), else `null`
   */
  unpackWorker?: string | null;
  env?: NodeJS.ProcessEnv;
}

/** The runtime-relevant part of the image config, with Docker's names and defaults filled in. */
export interface ImageConfig {
  Env: string[];
  Entrypoint: string[] | null;
  Cmd: string[] | null;
  User: string;
  WorkingDir: string;
  ExposedPorts: Record<string, object>;
  Healthcheck: ContainerConfig['Healthcheck'] | undefined;
  StopSignal: string | undefined;
  Labels: Record<string, string>;
  Volumes: Record<string, object>;
}

/** One layer of a pulled image. */
export interface ImageLayer {
  digest: string;
  diffId: string;
  chainId: string;
  size: number;
  mediaType: string;
  /** The unpacked layer (overlay format), when present for the mapping asked for. */
  dir?: string;
}

/** A pulled image. Layers are bottom first. */
export interface Image {
  /** The normalized reference (`docker.io/library/redis:7`, or `oci-layout:/abs/dir:tag`). */
  ref: string;
  /** The digest the reference resolved to (an index digest for multi-platform images, as Docker reports). */
  digest: string;
  /** The platform-specific manifest's digest. */
  manifestDigest: string;
  config: ImageConfig;
  layers: ImageLayer[];
  platform: Platform;
  /** Where the manifest came from this time. */
  source: 'cache' | 'registry' | 'mirror' | 'oci-layout' | 'docker-archive';
  /**
   * The reference actually pulled, after the Hub prefix and mirrors (`mirror.gcr.io/library/redis:7`), for
   * registry images; a cached image reports the one its layers were pulled from.
   */
  pulledFrom?: string;
  /**
   * An image read from a file (`docker-archive:`, `oci-layout:`): the names it was recorded under in the store, as
   * `docker load` tags it (the file's own names, else `localhost/slipway-load:<12 hex of its config digest>`).
   */
  loadedAs?: string[];
}

interface RefRecord {
  ref: string;
  pulledFrom?: string;
  digest: string;
  manifestDigest: string;
  config: ImageConfig;
  platform: Platform;
  layers: Omit<ImageLayer, 'dir'>[];
}

function toImageConfig(cfg: ImageConfigFile): ImageConfig {
  const c = cfg.config ?? {};
  return {
    Env: c.Env ?? [],
    Entrypoint: c.Entrypoint?.length ? c.Entrypoint : null,
    Cmd: c.Cmd?.length ? c.Cmd : null,
    User: c.User ?? '',
    WorkingDir: c.WorkingDir ?? '',
    ExposedPorts: c.ExposedPorts ?? {},
    Healthcheck: c.Healthcheck,
    StopSignal: c.StopSignal || undefined,
    Labels: c.Labels ?? {},
    Volumes: c.Volumes ?? {},
  };
}

function defaultMappingKey(): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? 'root' : `uid${uid}`;
}

/** Runs `fn` over items with at most `n` in flight; the first failure wins (others are left to finish). */
async function pool<T, R>(items: T[], n: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

interface LayerJob {
  desc: Descriptor;
  diffId: string;
  chainId: string;
  /** Opens the layer bytes (network or disk). */
  open: () => AsyncIterable<Buffer>;
  /** Whether the bytes should be kept as a store blob. */
  keep: boolean;
}

const sharedClients = new Map<string, RegistryClient>();

/** Images resolved from the store in this process, valid while the store's generation stamp holds. */
const resolved = new ResolvedCache<Image>();

/** Forgets the images this process resolved from the store (tests that compare against a cold lookup). */
export function forgetResolvedImages(): void {
  resolved.clear();
}

/** Shared machinery of one pull call. */
class Puller {
  readonly store: ImageStore;
  readonly mappingKey: string;
  readonly platform: Platform;
  #client: RegistryClient | undefined;

  constructor(readonly opts: PullOptions, readonly config: LoadedConfig = loadConfig({ env: opts.env })) {
    this.store = new ImageStore(opts.storeDir ?? config.values.storeDir, { removeTree: opts.removeTree });
    this.mappingKey = opts.mappingKey ?? defaultMappingKey();
    this.platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    this.store.layerDir(this.mappingKey, `sha256:${'0'.repeat(64)}`); // validates mappingKey early
  }

  get client(): RegistryClient {
    if (!this.#client) {
      // Without custom registry options, pulls in one process share a client: pings and tokens are reused.
      const shareable = this.opts.registry === undefined && this.opts.env === undefined;
      // The client reads the insecureRegistries and credentialHelpers settings itself: they are part of the key, and so
      // is where credentials are read from (its resolver keeps what it found, or did not find, per registry).
      const { insecureRegistries, credentialHelpers } = this.config.values;
      const key = JSON.stringify([this.opts.insecureRegistries ?? [], insecureRegistries, credentialHelpers, process.env.DOCKER_CONFIG, process.env.REGISTRY_AUTH_FILE]);
      this.#client = shareable ? sharedClients.get(key) : undefined;
      if (!this.#client) {
        this.#client = new RegistryClient({ ...this.opts.registry, insecureRegistries: this.opts.insecureRegistries, env: this.opts.env });
        if (shareable) sharedClients.set(key, this.#client);
      }
    }
    return this.#client;
  }

  /** Makes sure the layer is unpacked for this mapping; returns its directory. */
  async ensureLayer(job: LayerJob): Promise<string> {
    const { desc, chainId } = job;
    const dest = this.store.layerDir(this.mappingKey, chainId);
    const progress = (current: number): void => this.opts.onProgress?.({ layer: desc.digest, current, total: desc.size });
    if (await this.store.layerReady(this.mappingKey, chainId)) {
      progress(desc.size);
      return dest;
    }
    const layerLock = await this.store.lock(`layer-${this.mappingKey}-${chainId.slice(7)}`, this.opts.signal);
    try {
      if (await this.store.layerReady(this.mappingKey, chainId)) {
        progress(desc.size);
        return dest;
      }
      // Whatever is there (a killed pull's, a partly deleted store's) is not trusted.
      await this.store.discardLayer(this.mappingKey, chainId);
      const blobLock = await this.store.lock(`blob-${desc.digest.slice(7)}`, this.opts.signal);
      try {
        if (await this.store.hasBlob(desc.digest)) {
          try {
            return await this.#unpack(job, () => createReadStream(this.store.blobPath(desc.digest), { highWaterMark: 256 * 1024 }), false, progress);
          } catch (e) {
            if (!SlipwayError.is(e, 'ERR_DIGEST_MISMATCH') && !SlipwayError.is(e, 'ERR_UNPACK')) throw e;
            debug('stored blob %s is bad (%s); fetching it again', desc.digest, (e as Error).message);
            const { rm } = await import('node:fs/promises');
            await rm(this.store.blobPath(desc.digest), { force: true });
          }
        }
        const keep = job.keep && this.opts.keepBlobs !== false;
        return await this.#unpack(job, job.open, keep, progress);
      } finally {
        blobLock.release();
      }
    } finally {
      layerLock.release();
    }
  }

  async #unpack(job: LayerJob, open: () => AsyncIterable<Buffer>, keepBlob: boolean, progress: (n: number) => void): Promise<string> {
    const tmp = await this.store.layerTempDir(job.chainId);
    const t0 = Date.now();
    const r = await unpackLayerThreaded({
      source: open(), dir: tmp, digest: job.desc.digest, diffId: job.diffId, size: job.desc.size,
      blob: keepBlob ? { tempPath: `${tmp}.blob`, path: this.store.blobPath(job.desc.digest) } : undefined,
      ownershipListPath: `${tmp}.owners`, applyOwnership: this.opts.applyOwnership,
      onBytes: progress, label: job.desc.digest, signal: this.opts.signal, expansionLimit: this.config.values.layerExpansionLimit,
      ...(this.opts.unpackWorker !== undefined ? { workerPath: this.opts.unpackWorker } : {}),
    });
    const dir = await this.store.commitLayer(tmp, this.mappingKey, job.chainId);
    debug('layer %s: %d entries, %d bytes (%s) in %dms', job.desc.digest, r.entries, r.size, r.compression, Date.now() - t0);
    return dir;
  }

  /** Reads a small blob from the store or fetches it (under the blob lock, so it is fetched once). */
  async smallBlob(digest: string, fetch: () => Promise<Buffer>): Promise<Buffer> {
    const have = await this.store.readBlob(digest);
    if (have) return have;
    const lock = await this.store.lock(`blob-${digest.slice(7)}`, this.opts.signal);
    try {
      const again = await this.store.readBlob(digest);
      if (again) return again;
      const b = await fetch();
      await this.store.writeBlob(digest, b);
      return b;
    } finally {
      lock.release();
    }
  }

  async layersFor(manifest: ImageManifest, cfg: ImageConfigFile, open: (d: Descriptor) => () => AsyncIterable<Buffer>, keep: boolean): Promise<ImageLayer[]> {
    const diffIds = cfg.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    const jobs: LayerJob[] = manifest.layers.map((desc, i) => ({ desc, diffId: diffIds[i]!, chainId: chains[i]!, open: open(desc), keep }));
    const dirs = await pool(jobs, this.opts.concurrency ?? 3, (j) => this.ensureLayer(j));
    return jobs.map((j, i) => ({ digest: j.desc.digest, diffId: j.diffId, chainId: j.chainId, size: j.desc.size, mediaType: j.desc.mediaType, dir: dirs[i]! }));
  }

  /** The cached image for a reference, unpacking from stored blobs if needed; undefined when not cached. */
  async fromCache(key: string): Promise<Image | undefined> {
    const rec = await this.store.readRef<RefRecord>(key);
    if (!rec) return undefined;
    const layers: ImageLayer[] = [];
    for (const l of rec.layers) {
      if (!(await this.store.layerReady(this.mappingKey, l.chainId)) && !(await this.store.hasBlob(l.digest))) return undefined;
      layers.push({ ...l });
    }
    const missing = (l: ImageLayer): () => AsyncIterable<Buffer> => async function* () {
      yield* [];
      throw new SlipwayError('ERR_IMAGE_NOT_PRESENT', `layer ${l.digest} is not in the store`, { hint: 'pull the image again' });
    };
    let dirs: string[];
    try {
      dirs = await pool(layers, this.opts.concurrency ?? 3, (l) => this.ensureLayer({
        desc: { digest: l.digest, size: l.size, mediaType: l.mediaType }, diffId: l.diffId, chainId: l.chainId, open: missing(l), keep: false,
      }));
    } catch (e) {
      // A stored blob turned out corrupt (and was removed): not cached after all.
      if (SlipwayError.is(e, 'ERR_IMAGE_NOT_PRESENT')) return undefined;
      throw e;
    }
    return { ...rec, layers: layers.map((l, i) => ({ ...l, dir: dirs[i]! })), source: 'cache' };
  }

  async fromRegistry(ref: ImageReference, asRef: string, source: 'registry' | 'mirror'): Promise<Image> {
    const { domain, path: repo } = ref;
    const c = this.client;
    const signal = this.opts.signal;
    const top = await c.getManifest(domain, repo, ref.digest ?? ref.tag ?? 'latest', { signal });
    let parsed = parseManifest(top.body, top.contentType, `manifest of ${ref.string}`);
    await this.store.writeBlob(top.digest, top.body);
    let manifestDigest = top.digest;
    if (parsed.kind === 'index') {
      const entry = selectPlatform(parsed.manifests, this.platform, ref.string);
      const m = await c.getManifest(domain, repo, entry.digest, { signal });
      parsed = parseManifest(m.body, m.contentType, `manifest ${entry.digest} of ${ref.string}`);
      if (parsed.kind !== 'manifest') throw new SlipwayError('ERR_MANIFEST_INVALID', `${ref.string}: nested index for ${platformString(this.platform)}`);
      await this.store.writeBlob(m.digest, m.body);
      manifestDigest = m.digest;
    }
    const manifest = parsed;
    const cfgBytes = await this.smallBlob(manifest.config.digest, () => c.getBlob(domain, repo, manifest.config.digest, { signal }));
    const cfg = parseImageConfig(cfgBytes, manifest.layers.length, `config of ${ref.string}`);
    if (this.opts.platform) checkImagePlatform(cfg, this.platform, ref.string);
    const layers = await this.layersFor(manifest, cfg, (d) => () => c.blobStream(domain, repo, d.digest, d.size, { signal }), true);
    const image: Image = {
      ref: asRef, digest: top.digest, manifestDigest, config: toImageConfig(cfg), layers,
      platform: { os: cfg.os ?? this.platform.os, architecture: cfg.architecture ?? this.platform.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) },
      source, pulledFrom: ref.string,
    };
    return image;
  }

  async remember(key: string, image: Image): Promise<void> {
    const rec: RefRecord = {
      ref: image.ref, ...(image.pulledFrom ? { pulledFrom: image.pulledFrom } : {}), digest: image.digest, manifestDigest: image.manifestDigest, config: image.config, platform: image.platform,
      layers: image.layers.map(({ dir: _dir, ...l }) => l),
    };
    await this.store.writeRef(key, rec);
  }
}

function parseMirror(m: string): { host: string; insecure: boolean } {
  if (typeof m !== 'string') throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid registry mirror ${JSON.stringify(m)}`, { hint: 'use host[:port] or http(s)://host[:port], e.g. "mirror.gcr.io"' });
  const t = m.trim().replace(/\/+$/, '');
  const insecure = t.startsWith('http://');
  const host = t.replace(/^[a-z]+:\/\//, '');
  if (!host || host.includes('/')) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid registry mirror ${JSON.stringify(m)}`, { hint: 'use host[:port] or http(s)://host[:port], e.g. "mirror.gcr.io"' });
  }
  return { host, insecure };
}

/** Applies the Hub prefix (testcontainers semantics: official images keep their short name). */
export function applyHubPrefix(ref: ImageReference, prefix: string | undefined, origin: string): ImageReference {
  if (!prefix || ref.domain !== DOCKER_HUB_DOMAIN) return ref;
  const short = ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice(8) : ref.path;
  let s = `${prefix.trim().replace(/\/+$/, '')}/${short}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  try {
    return parseReference(s);
  } catch (e) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `hub image name prefix ${JSON.stringify(prefix)} gives the invalid reference ${JSON.stringify(s)}`, {
      hint: `use a prefix like "registry.example.com/dockerhub" (SLIPWAY_HUB_IMAGE_NAME_PREFIX); this one comes from ${origin}`, cause: e,
    });
  }
}

/**
 * Pulls an image and unpacks its layers into the store (once per layer and id mapping).
 *
 * References: anything `docker pull` accepts (`redis`, `redis:7`, `localhost:5000/app@sha256:…`), plus
 * `oci-layout:<dir>[:tag]` and `docker-archive:<file.tar>`.
 *
 * @returns the image: normalized ref, digests, config (Env/Entrypoint/Cmd/User/WorkingDir/ExposedPorts/
 *   Healthcheck/StopSignal/Labels) and layers with their unpacked directories.
 * @throws {@link SlipwayError} `ERR_INVALID_REFERENCE`, `ERR_IMAGE_NOT_PRESENT` (policy `never`),
 *   `ERR_IMAGE_NOT_FOUND`, `ERR_PLATFORM_NOT_FOUND`, `ERR_REGISTRY_AUTH`, `ERR_REGISTRY_UNREACHABLE`,
 *   `ERR_REGISTRY_TIMEOUT` (a request stalled), `ERR_PULL_TIMEOUT` (the whole pull took longer than `timeout`),
 *   `ERR_STORE_FULL` (no space left in the store), `ERR_DIGEST_MISMATCH`, `ERR_UNPACK_UNSAFE_PATH`, `ERR_TOO_LARGE`, `ERR_ABORTED`.
 * @example
 * const img = await pull('postgres:16', { onProgress: (p) => console.log(p.layer, p.current, p.total) });
 * img.layers.map((l) => l.dir); // lower dirs, bottom first
 */
export async function pull(ref: string, opts: PullOptions = {}): Promise<Image> {
  if (typeof ref !== 'string') throw new SlipwayError('ERR_INVALID_REFERENCE', `image reference must be a string, got ${typeof ref}`);
  const config = loadConfig({ env: opts.env });
  const policy = opts.policy ?? config.values.pullPolicy;
  if (!['missing', 'always', 'never'].includes(policy)) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid policy ${JSON.stringify(policy)}`, { hint: "use 'missing', 'always' or 'never'" });
  }
  const full = { ...opts, policy, storeDir: opts.storeDir ?? config.values.storeDir };
  const limit = opts.timeout === undefined ? config.values.pullTimeout : pullTimeout(opts.timeout);
  return withinPullLimit(ref, limit, opts.signal, (signal) => pullBounded(ref, { ...full, signal }, config), {
    source: 'the registry is reachable', otherwise: (e) => whenFull(e, ref, full),
  });
}

/** A store write that failed for lack of space, anywhere in a pull, becomes one ERR_STORE_FULL naming the store. */
function whenFull(e: unknown, ref: string, opts: PullOptions): unknown {
  if (!isDiskFull(e)) return e;
  return storeFullError(path.resolve(opts.storeDir ?? defaultStoreRoot(opts.env)), `pulling ${ref}`, e);
}

/** The default bound of a whole pull: generous for big images on slow links, yet a stalled pull ends. */
export const DEFAULT_PULL_TIMEOUT_MS = 600_000;

/** A pull bound given as an option; `Infinity` disables it. (Without one, the `pullTimeout` setting applies.) */
export function pullTimeout(option: number): number {
  if (option === Infinity) return Infinity;
  return positiveMs(option, 'pull timeout');
}

async function pullBounded(ref: string, opts: PullOptions, config: LoadedConfig): Promise<Image> {
  const policy = opts.policy ?? config.values.pullPolicy;
  if (ref.startsWith('oci-layout:')) return recordLoaded(await pullOciLayout(ref.slice('oci-layout:'.length), opts, config), opts);
  if (ref.startsWith('docker-archive:')) return recordLoaded(await pullDockerArchive(ref.slice('docker-archive:'.length), opts, config), opts);

  const parsed = parseReference(ref);
  const prefix = opts.hubPrefix ?? config.values.hubImageNamePrefix;
  const effective = applyHubPrefix(parsed, prefix, opts.hubPrefix !== undefined ? 'the hubPrefix option' : config.origins.hubImageNamePrefix);
  const mirrorSettings = opts.registryMirror !== undefined ? [opts.registryMirror].flat() : config.values.registryMirrors;
  const mirrors = effective.domain === DOCKER_HUB_DOMAIN ? mirrorSettings.map(parseMirror) : [];
  const insecure = [...(opts.insecureRegistries ?? []), ...mirrors.filter((m) => m.insecure).map((m) => m.host)];
  const puller = new Puller({ ...opts, insecureRegistries: insecure }, config);
  // The store is keyed by the reference after the Hub prefix (what `slipway images` lists), never by a mirror:
  // a mirror serves Hub's content, and `--pull never <listed reference>` must find it.
  const key = `${effective.string}|${platformString(puller.platform)}`;
  if (policy !== 'always') {
    const known = resolved.get(puller.store, puller.mappingKey, key);
    if (known) return { ...known, ref: parsed.string };
  }
  await puller.store.init();

  if (policy !== 'always') {
    // Read before the record and markers: a change made while they are read leaves the entry stale, never wrong.
    const stamp = puller.store.generation();
    const cached = await puller.fromCache(key);
    if (cached) {
      debug('%s: from cache', key);
      resolved.set(puller.store, puller.mappingKey, key, stamp, cached, cached.layers);
      return { ...cached, ref: parsed.string };
    }
    if (policy === 'never') {
      const via = effective.string !== parsed.string ? ` (stored as ${effective.string}, after the Hub prefix)` : '';
      throw new SlipwayError('ERR_IMAGE_NOT_PRESENT', `image ${parsed.string}${via} (${platformString(puller.platform)}) is not in the store at ${puller.store.root} and the pull policy is "never"`, {
        hint: "pull it first (`slipway pull`, or policy 'missing'); `slipway images` lists what the store holds",
      });
    }
  }

  let image: Image | undefined;
  const failures: string[] = [];
  for (const mirror of mirrors) {
    const asMirror = makeReference(mirror.host, effective.path, effective.tag, effective.digest);
    try {
      image = await puller.fromRegistry(asMirror, parsed.string, 'mirror');
      break;
    } catch (e) {
      // Failures the registry cannot change: trying Hub after the mirror would only repeat them.
      if (SlipwayError.is(e, 'ERR_ABORTED') || SlipwayError.is(e, 'ERR_UNPACK_UNSAFE_PATH') || SlipwayError.is(e, 'ERR_PLATFORM_NOT_FOUND') || isDiskFull(e)) throw e;
      debug('mirror %s failed for %s (%s); trying the next', mirror.host, effective.string, (e as Error).message);
      failures.push(`mirror ${mirror.host}: ${SlipwayError.is(e) ? e.shortMessage : (e as Error).message}`);
    }
  }
  try {
    image ??= await puller.fromRegistry(effective, parsed.string, 'registry');
  } catch (e) {
    throw unreachableHint(e, parsed, effective, failures, config);
  }
  await puller.remember(key, image);
  return image;
}

const UNREACHABLE = new Set(['ERR_REGISTRY_UNREACHABLE', 'ERR_REGISTRY_TIMEOUT', 'ERR_REGISTRY']);

/**
 * A registry that cannot be reached (or keeps failing): say which mirror and prefix settings were in effect and
 * how to set them, with an example; Docker Hub is the registry users most often cannot reach from CI.
 */
function unreachableHint(e: unknown, asked: ImageReference, effective: ImageReference, failures: string[], config: LoadedConfig): unknown {
  if (!SlipwayError.is(e) || !UNREACHABLE.has(e.code)) return e;
  const { hubImageNamePrefix, registryMirrors } = config.values;
  const tried = failures.length ? `; mirrors tried first: ${failures.join('; ')}` : '';
  let hint: string;
  if (effective.domain === DOCKER_HUB_DOMAIN) {
    const mirrorsNow = registryMirrors.length ? `registryMirrors is ${JSON.stringify(registryMirrors)} (from ${config.origins.registryMirrors})` : 'no registry mirror is set';
    hint = `Docker Hub could not be reached and ${mirrorsNow}: pull Hub images through a mirror with SLIPWAY_REGISTRY_MIRROR=mirror.gcr.io ` +
      `or {"registryMirrors": ["mirror.gcr.io"]} in slipway.config.json, or through a pull-through cache with ` +
      `SLIPWAY_HUB_IMAGE_NAME_PREFIX=registry.example.com/dockerhub or {"hubImageNamePrefix": "registry.example.com/dockerhub"} ` +
      `(testcontainers' TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX works too); \`slipway info\` shows the settings in effect`;
  } else if (asked.domain === DOCKER_HUB_DOMAIN && hubImageNamePrefix) {
    hint = `${effective.domain} is the hubImageNamePrefix ${JSON.stringify(hubImageNamePrefix)} (from ${config.origins.hubImageNamePrefix}): ` +
      `check that this registry is up and reachable, or change or unset the prefix (\`slipway info\` shows where it is set)`;
  } else {
    hint = `${e.hint ? `${e.hint}; ` : ''}mirrors and the Hub prefix apply to Docker Hub images only: to reach ${effective.domain} through another registry, ` +
      `name that registry in the reference (e.g. registry.example.com/${effective.path}:${effective.tag ?? 'latest'})`;
  }
  return new SlipwayError(e.code, `${e.shortMessage}${tried}`, { hint, cause: e });
}

/**
 * Opens a file of a local image (layout or archive) without waiting: a FIFO or device where a file should be (a tree
 * someone else unpacked) was opened plainly, which waits for a writer forever and holds a libuv threadpool thread
 * with it, whatever the pull's time limit. Anything but a regular file is `ERR_MANIFEST_INVALID`.
 */
async function openRegular(file: string, what: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e) {
    throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `${what}: ${file} does not exist`, { cause: e, hint: 'check the path' });
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new SlipwayError('ERR_MANIFEST_INVALID', `${what}: ${file} is not a regular file`, { hint: 'point at an image layout or archive made of regular files (a FIFO or device is never read)' });
  }
  return { fh, size: st.size };
}

async function readLimitedFile(file: string, limit: number, what: string): Promise<Buffer> {
  const { fh, size } = await openRegular(file, what);
  try {
    if (size > limit) throw new SlipwayError('ERR_TOO_LARGE', `${what}: ${file} is larger than ${limit} bytes`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** A layer blob of a local layout as a stream, opened when read; a non-regular file fails the stream. */
function regularFileStream(file: string, what: string): Readable {
  return Readable.from((async function* () {
    const { fh } = await openRegular(file, what);
    try {
      for await (const c of fh.createReadStream({ highWaterMark: 256 * 1024, autoClose: false })) yield c as Buffer;
    } finally {
      await fh.close();
    }
  })(), { objectMode: false });
}

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function pullOciLayout(spec: string, opts: PullOptions, config: LoadedConfig): Promise<Image> {
  let dir = spec;
  let tag: string | undefined;
  const isDir = async (p: string): Promise<boolean> => stat(p).then((s) => s.isDirectory(), () => false);
  if (!(await isDir(spec))) {
    const i = spec.lastIndexOf(':');
    if (i > 0) {
      dir = spec.slice(0, i);
      tag = spec.slice(i + 1);
    }
  }
  dir = path.resolve(dir);
  if (!(await isDir(dir))) throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `OCI layout directory ${dir} does not exist`, { hint: 'use oci-layout:<dir>[:tag]' });
  const puller = new Puller(opts, config);
  const limit = opts.registry?.maxManifestBytes ?? 4 << 20;
  const blob = (d: string): string => {
    if (!/^sha256:[a-f0-9]{64}$/.test(d)) throw new SlipwayError('ERR_MANIFEST_INVALID', `unsupported digest ${d} in ${dir}`);
    return path.join(dir, 'blobs', 'sha256', d.slice(7));
  };
  const readBlob = async (d: string): Promise<Buffer> => {
    const b = await readLimitedFile(blob(d), limit, `OCI layout ${dir}`);
    if (sha(b) !== d) throw new SlipwayError('ERR_DIGEST_MISMATCH', `blob ${d} in ${dir} is corrupt`);
    return b;
  };
  const index = parseManifest(await readLimitedFile(path.join(dir, 'index.json'), limit, `OCI layout ${dir}`), 'application/vnd.oci.image.index.v1+json', `${dir}/index.json`);
  if (index.kind !== 'index') throw new SlipwayError('ERR_MANIFEST_INVALID', `${dir}/index.json is not an image index`);
  let candidates = index.manifests;
  if (tag !== undefined) {
    candidates = candidates.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
    if (!candidates.length) {
      const tags = index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']).filter(Boolean);
      throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `OCI layout ${dir} has no image tagged ${JSON.stringify(tag)}; tags: ${tags.join(', ') || '(none)'}`);
    }
  }
  let chosen = candidates.length === 1 ? candidates[0]! : selectPlatform(candidates, puller.platform, `OCI layout ${dir}`);
  // docker save (≥ 25) and buildkit name the image in io.containerd.image.name; ref.name is usually a bare tag
  // ("latest"), a name only when it is a whole reference.
  const notes = (chosen.annotations ?? {}) as Record<string, unknown>;
  const refName = notes['org.opencontainers.image.ref.name'];
  const names = [notes['io.containerd.image.name'], typeof refName === 'string' && /[/:]/.test(refName) ? refName : undefined].filter((n) => n !== undefined);
  let topDigest = chosen.digest;
  let manifestBytes = await readBlob(chosen.digest);
  let parsed = parseManifest(manifestBytes, chosen.mediaType, `${dir} ${chosen.digest}`);
  if (parsed.kind === 'index') {
    chosen = selectPlatform(parsed.manifests, puller.platform, `OCI layout ${dir}`);
    manifestBytes = await readBlob(chosen.digest);
    parsed = parseManifest(manifestBytes, chosen.mediaType, `${dir} ${chosen.digest}`);
    if (parsed.kind !== 'manifest') throw new SlipwayError('ERR_MANIFEST_INVALID', `${dir}: nested index`);
  } else {
    topDigest = chosen.digest;
  }
  const manifest = parsed;
  const cfgBytes = await readBlob(manifest.config.digest);
  const cfg = parseImageConfig(cfgBytes, manifest.layers.length, `config in ${dir}`);
  if (puller.opts.platform) checkImagePlatform(cfg, puller.platform, `OCI layout ${dir}`);
  const layerStream = (d: Descriptor) => () => regularFileStream(blob(d.digest), `OCI layout ${dir}`);
  const layers = await puller.layersFor(manifest, cfg, layerStream, true);
  if (opts.keepBlobs !== false) {
    // As a registry pull keeps them: `save`, `push` and a build FROM this image read them (layers unpacked earlier
    // for another image were not kept by layersFor).
    for (const d of manifest.layers) await keepFileBlob(puller.store, d.digest, layerStream(d), `OCI layout ${dir}`);
    await puller.store.writeBlob(manifest.config.digest, cfgBytes);
    await puller.store.writeBlob(chosen.digest, manifestBytes);
  }
  return Object.assign({
    ref: `oci-layout:${dir}${tag !== undefined ? `:${tag}` : ''}`, digest: topDigest, manifestDigest: chosen.digest, config: toImageConfig(cfg), layers,
    platform: { os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) }, source: 'oci-layout' as const,
  }, { [FILE_NAMES]: { names, configDigest: manifest.config.digest } });
}

interface ArchiveManifest { Config: string; RepoTags?: string[] | null; Layers: string[] }

/** Iterates the entries of a tar file, calling `fn` for each with a byte stream. */
async function scanTar(file: string, fn: (name: string, size: number, stream: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const ex = tarExtract();
  const feed = pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), ex);
  let feedError: unknown;
  const settled = feed.catch((e: unknown) => {
    feedError = e;
  });
  try {
    for await (const entry of ex) {
      const name = entry.header.name.replace(/^\.?\/+/, '');
      const data = entryData(entry);
      await fn(name, entry.header.type === 'directory' ? 0 : entry.header.size ?? 0, data);
      for await (const _ of data) void _;
    }
  } catch (e) {
    ex.destroy();
    if (SlipwayError.is(e)) throw e;
    await settled;
    throw new SlipwayError('ERR_UNPACK', `docker archive ${file} is not a valid tar: ${((feedError ?? e) as Error).message}`, { cause: feedError ?? e });
  }
  await settled;
  if (feedError) throw new SlipwayError('ERR_UNPACK', `docker archive ${file} is not a valid tar: ${(feedError as Error).message}`, { cause: feedError });
}

async function pullDockerArchive(file: string, opts: PullOptions, config: LoadedConfig): Promise<Image> {
  const abs = path.resolve(file);
  const st = await stat(abs).catch((e: unknown) => {
    throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `docker archive ${abs} does not exist`, { cause: e, hint: 'use docker-archive:<file.tar> (as written by docker save)' });
  });
  // Read twice below by name: a FIFO would wait for a writer forever (and feed each pass something else).
  if (!st.isFile()) throw new SlipwayError('ERR_MANIFEST_INVALID', `docker archive ${abs} is not a regular file`, { hint: 'use docker-archive:<file.tar> (as written by docker save)' });
  const puller = new Puller(opts, config);
  const limit = opts.registry?.maxManifestBytes ?? 4 << 20;
  // Pass 1: the small JSON files.
  const jsons = new Map<string, Buffer>();
  const grab = (want: (name: string) => boolean) => async (name: string, size: number, stream: AsyncIterable<Buffer>): Promise<void> => {
    if (!want(name) || size > limit) return;
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c);
    jsons.set(name, Buffer.concat(chunks));
  };
  await scanTar(abs, grab((n) => n.endsWith('.json')));
  const mj = jsons.get('manifest.json');
  if (!mj) throw new SlipwayError('ERR_MANIFEST_INVALID', `${abs} has no manifest.json; is it a docker save archive?`);
  let entries: ArchiveManifest[];
  try {
    entries = JSON.parse(mj.toString('utf8')) as ArchiveManifest[];
  } catch (e) {
    throw new SlipwayError('ERR_MANIFEST_INVALID', `${abs}: manifest.json is not valid JSON`, { cause: e });
  }
  const entry = entries[0];
  if (!entry?.Config || !Array.isArray(entry.Layers)) throw new SlipwayError('ERR_MANIFEST_INVALID', `${abs}: manifest.json lists no image`);
  const cfgName = entry.Config.replace(/^\.?\/+/, '');
  // docker save ≥ 25 stores the config as blobs/sha256/<hex>, without a .json suffix.
  if (!jsons.has(cfgName)) await scanTar(abs, grab((n) => n === cfgName));
  const cfgBytes = jsons.get(cfgName);
  if (!cfgBytes) throw new SlipwayError('ERR_MANIFEST_INVALID', `${abs}: config ${entry.Config} missing`);
  const cfg = parseImageConfig(cfgBytes, entry.Layers.length, `config in ${abs}`);
  if (puller.opts.platform) checkImagePlatform(cfg, puller.platform, `docker archive ${abs}`);
  const chains = chainIds(cfg.rootfs.diff_ids);
  const layers: ImageLayer[] = entry.Layers.map((name, i) => ({
    digest: cfg.rootfs.diff_ids[i]!, diffId: cfg.rootfs.diff_ids[i]!, chainId: chains[i]!, size: 0,
    mediaType: 'application/vnd.docker.image.rootfs.diff.tar', dir: puller.store.layerDir(puller.mappingKey, chains[i]!),
  }));
  // Blobs are kept as a registry pull keeps them (`save`, `push`, a build FROM it read them): an archive's layers
  // are mostly uncompressed tars, so a layer's blob is usually its diff id.
  const keep = opts.keepBlobs !== false;
  const kept: (KeptLayer | undefined)[] = [];
  const needed = new Map<string, number[]>();
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (await puller.store.layerReady(puller.mappingKey, l.chainId)) {
      if (!keep) continue;
      const size = await stat(puller.store.blobPath(l.diffId)).then((st) => st.size, () => undefined);
      if (size !== undefined) {
        kept[i] = { digest: l.diffId, size, compression: 'none' };
        continue;
      }
    }
    const n = entry.Layers[i]!.replace(/^\.?\/+/, '');
    needed.set(n, [...(needed.get(n) ?? []), i]);
  }
  if (needed.size) {
    // Pass 2: unpack each needed layer straight from the archive stream (serially, in archive order), keeping its
    // blob on the way; a layer unpacked meanwhile (or earlier, without its blob) only has its blob written.
    await scanTar(abs, async (name, size, stream) => {
      const idx = needed.get(name);
      if (!idx) return;
      const chunksOnce = stream;
      for (const i of idx) {
        const l = layers[i]!;
        l.size = size;
        const lock = await puller.store.lock(`layer-${puller.mappingKey}-${l.chainId.slice(7)}`, opts.signal);
        const blob = keep ? await digestingBlobWriter(puller.store) : undefined;
        try {
          let compression: KeptLayer['compression'] = 'none';
          if (await puller.store.layerReady(puller.mappingKey, l.chainId)) {
            if (!blob) continue;
            let head: Buffer | undefined;
            for await (const c of chunksOnce) {
              head ??= c;
              await blob.write(c);
            }
            if (head && head.length >= 4) compression = layerCompression(head);
          } else {
            await puller.store.discardLayer(puller.mappingKey, l.chainId);
            const tmp = await puller.store.layerTempDir(l.chainId);
            const r = await unpackLayer({
              source: chunksOnce, dir: tmp, diffId: l.diffId, ownershipListPath: `${tmp}.owners`, applyOwnership: opts.applyOwnership,
              label: `${name} in ${abs}`, signal: opts.signal, blobWriter: blob, expansionLimit: puller.config.values.layerExpansionLimit,
              onBytes: (n) => opts.onProgress?.({ layer: l.digest, current: n, total: size }),
            });
            l.digest = r.digest;
            compression = r.compression;
            await puller.store.commitLayer(tmp, puller.mappingKey, l.chainId);
          }
          if (blob) {
            await blob.commit();
            kept[i] = { ...blob.kept(), compression };
          }
        } catch (e) {
          await blob?.abort();
          throw e;
        } finally {
          lock.release();
        }
        break; // a stream can be read once; duplicates share the chain id anyway
      }
    });
    for (const l of layers) {
      if (!(await puller.store.layerReady(puller.mappingKey, l.chainId))) throw new SlipwayError('ERR_MANIFEST_INVALID', `${abs}: layer for ${l.diffId} missing from the archive`);
    }
  }
  const configDigest = sha(cfgBytes);
  let manifestDigest = configDigest;
  if (keep) {
    // A layer listed twice was read once: its other places take the same blob.
    const byName = new Map(entry.Layers.map((n, i) => [n, kept[i]] as const).filter(([, k]) => k));
    const all = layers.map((_, i) => kept[i] ?? byName.get(entry.Layers[i]!));
    if (all.every((k) => k)) manifestDigest = await writeArchiveManifest(puller.store, cfgBytes, all as KeptLayer[]);
    else debug('%s: not every layer blob was kept; the image cannot be saved or pushed', abs);
  }
  return Object.assign({
    ref: `docker-archive:${abs}`, digest: configDigest, manifestDigest, config: toImageConfig(cfg), layers,
    platform: { os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) }, source: 'docker-archive' as const,
  }, { [FILE_NAMES]: { names: Array.isArray(entry.RepoTags) ? entry.RepoTags : [], configDigest } });
}

/** The names a file gives its image and its config digest (docker load's image ID), beside the pulled image. */
const FILE_NAMES = Symbol('fileNames');
type FromFile = Image & { [FILE_NAMES]?: { names: unknown[]; configDigest: string } };

/**
 * Records an image read from a file in the store's index, as `docker load` tags it: under each name the file gives
 * that is a valid reference with a tag (a digest or a malformed name is skipped) and that the store does not hold for an
 * image of another origin (a registry pull, a build, a commit: kept, with a warning), else under
 * `localhost/slipway-load:<12 hex of its config digest>`. `slipway images` then lists it, `prune` keeps its layers
 * and `--pull never <name>` finds it until `slipway rmi` removes the name.
 */
async function recordLoaded(image: FromFile, opts: PullOptions): Promise<Image> {
  const { names = [], configDigest = image.digest } = image[FILE_NAMES] ?? {};
  const { [FILE_NAMES]: _drop, ...img } = image;
  const valid = new Set<string>();
  for (const n of names) {
    if (typeof n !== 'string' || n.length > 512) continue;
    try {
      const p = parseReference(n, { defaultTag: false });
      if (p.tag && !p.digest) valid.add(p.string);
      else debug('%s: name %s has no tag or has a digest: not recorded', img.ref, n);
    } catch {
      debug('%s: name %j is not a valid reference: not recorded', img.ref, n);
    }
  }
  const tagOpts = { storeDir: opts.storeDir, env: opts.env, hubPrefix: opts.hubPrefix, pulledFrom: img.ref };
  const loadedAs: string[] = [];
  const refused: string[] = [];
  for (const name of valid) {
    // A file names itself: it must not take a name the store holds for an image pulled from a registry, built or
    // committed here (an archive naming itself `postgres:16` would otherwise be what every later start of
    // `postgres:16` runs, in every later test run: the store outlives the process). A name another file gave is
    // taken over, as `docker load` does.
    const held = await storedRecord(name, img.platform, tagOpts);
    if (held && !isFileSource(held.pulledFrom)) {
      refused.push(name);
      continue;
    }
    loadedAs.push(await tagLocalImage(name, img, tagOpts));
  }
  if (!loadedAs.length) loadedAs.push(await tagLocalImage(`localhost/slipway-load:${configDigest.replace(/^sha256:/, '').slice(0, 12)}`, img, tagOpts));
  if (refused.length) {
    process.emitWarning(`${img.ref} names itself ${refused.join(', ')}, which the store holds for ${refused.length === 1 ? 'an image' : 'images'} not loaded from a file: ` +
      `not renamed; loaded as ${loadedAs.join(', ')} (\`slipway rmi\` the stored name first to let the file take it)`, { code: 'SLIPWAY_LOAD_NAME_KEPT' });
  }
  return { ...img, loadedAs };
}

/** Whether a record's `pulledFrom` names a file (`docker-archive:`, `oci-layout:`) rather than a registry. */
const isFileSource = (pulledFrom: string | undefined): boolean => !!pulledFrom && /^(?:docker-archive|oci-layout):/.test(pulledFrom);

/** The store's record under `ref` for `platform` (the key a pull with policy `never` reads), if any. */
async function storedRecord(ref: string, platform: Platform, opts: { storeDir?: string; env?: NodeJS.ProcessEnv; hubPrefix?: string }): Promise<RefRecord | undefined> {
  const config = loadConfig({ env: opts.env });
  const effective = applyHubPrefix(parseReference(ref), opts.hubPrefix ?? config.values.hubImageNamePrefix, opts.hubPrefix !== undefined ? 'the hubPrefix option' : config.origins.hubImageNamePrefix);
  return new ImageStore(opts.storeDir ?? config.values.storeDir).readRef<RefRecord>(`${effective.string}|${platformString(platform)}`);
}


/**
 * Records an image made on this machine (a build) under a reference, as a pull would have: `pull()` with any policy
 * but `always` then finds it in the store (its layers must be unpacked there for the mapping).
 * @returns the normalized reference
 */
export async function tagLocalImage(ref: string, image: Omit<Image, 'ref' | 'source'>, opts: { storeDir?: string; env?: NodeJS.ProcessEnv; hubPrefix?: string; pulledFrom?: string } = {}): Promise<string> {
  const config = loadConfig({ env: opts.env });
  const parsed = parseReference(ref);
  const effective = applyHubPrefix(parsed, opts.hubPrefix ?? config.values.hubImageNamePrefix, opts.hubPrefix !== undefined ? 'the hubPrefix option' : config.origins.hubImageNamePrefix);
  const store = new ImageStore(opts.storeDir ?? config.values.storeDir);
  await store.init();
  const rec: RefRecord = {
    ref: parsed.string, ...(opts.pulledFrom ? { pulledFrom: opts.pulledFrom } : {}), digest: image.digest, manifestDigest: image.manifestDigest, config: image.config, platform: image.platform,
    layers: image.layers.map(({ dir: _dir, ...l }) => l),
  };
  await store.writeRef(`${effective.string}|${platformString(image.platform)}`, rec);
  return parsed.string;
}

/** Converts a full image config's `config` section to the runtime's view (Docker's defaults filled in). */
export function imageConfigOf(cfg: ImageConfigFile): ImageConfig {
  return toImageConfig(cfg);
}

/**
 * The record of an image the store holds under `ref` (as `pull()` with policy `never` would find it), without
 * unpacking anything: for reading its blobs (export, push).
 * @throws {@link SlipwayError} `ERR_INVALID_REFERENCE`, `ERR_IMAGE_NOT_PRESENT` when the store has no such image
 */
export async function storedImage(ref: string, opts: { storeDir?: string; platform?: string | Platform; hubPrefix?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Omit<Image, 'source'>> {
  const config = loadConfig({ env: opts.env });
  const parsed = parseReference(ref);
  const effective = applyHubPrefix(parsed, opts.hubPrefix ?? config.values.hubImageNamePrefix, opts.hubPrefix !== undefined ? 'the hubPrefix option' : config.origins.hubImageNamePrefix);
  const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const store = new ImageStore(opts.storeDir ?? config.values.storeDir);
  await store.init();
  const rec = await store.readRef<RefRecord>(`${effective.string}|${platformString(platform)}`);
  if (!rec) {
    throw new SlipwayError('ERR_IMAGE_NOT_PRESENT', `image ${parsed.string} (${platformString(platform)}) is not in the store at ${store.root}`, {
      hint: '`slipway images` lists what the store holds; build or pull the image first',
    });
  }
  return { ...rec, ref: parsed.string };
}

import { pull as pullToStore, type Image, type PullPolicy, type PullProgress } from '../image/pull.js';
import type { Platform } from '../image/platform.js';
import { layerOwnership, pullOnEngine } from '../runtime/index.js';
import { withSettings } from '../config/index.js';

/**
 * Options for {@link pull}.
 * @example
 * import { pull, type PullImageOptions } from 'slipway';
 * const options: PullImageOptions = { policy: 'missing', timeout: 300_000, signal: AbortSignal.timeout(600_000) };
 * await pull('postgres:16', options);
 */
export interface PullImageOptions {
  /**
   * `missing` uses the store when the image is there (no registry asked); `always` asks the registry again;
   * `never` only uses the store.
   * @defaultValue the `pullPolicy` setting (`$SLIPWAY_PULL_POLICY`, `slipway.config.json`), else `'missing'`
   */
  policy?: PullPolicy;
  /** `os/arch[/variant]`, e.g. `linux/arm64`. @defaultValue this host's platform */
  platform?: string;
  /** Called as layer bytes arrive (compressed bytes per layer). */
  onProgress?: (progress: PullProgress) => void;
  /** Aborts the pull (`ERR_ABORTED`); nothing half-written is kept. */
  signal?: AbortSignal;
  /**
   * Bounds the whole pull in ms; `Infinity` for no bound.
   * @defaultValue the `pullTimeout` setting (`$SLIPWAY_PULL_TIMEOUT`, `slipway.config.json`), else 600000 (10 minutes)
   */
  timeout?: number;
}

/**
 * What {@link pull} put in the store.
 * @example
 * import { pull } from 'slipway';
 * const image = await pull('redis:7');
 * console.log(image.ref, image.digest, image.pulledFrom ?? image.source, image.layers.length);
 */
export interface PulledImage {
  /** The normalized reference asked for (`docker.io/library/redis:7`). */
  ref: string;
  /** The digest the reference resolved to (an index digest for multi-platform images, as Docker reports). */
  digest: string;
  /** The platform-specific manifest's digest. */
  manifestDigest: string;
  platform: Platform;
  /** Where the manifest came from this time: the store (`cache`), the registry, a mirror, or a local file. */
  source: Image['source'];
  /** The reference actually pulled, after the Hub prefix and mirrors, for registry images. */
  pulledFrom?: string;
  /** The layers, bottom first: digest and compressed size. */
  layers: { digest: string; size: number }[];
}

/**
 * Pulls an image into the store as `start()` would (same store, same id mapping, same settings), so containers
 * started later find it without a registry: pre-pull in a test runner's `globalSetup`, outside the tests' timeouts.
 *
 * References: anything `docker pull` accepts (`redis:7`, `localhost:5000/app@sha256:…`), plus `oci-layout:<dir>[:tag]`
 * and `docker-archive:<file.tar>`. Mirrors, the Hub prefix, insecure registries and credential helpers come from the
 * configuration (`slipway.config.json`, `SLIPWAY_*`; `slipway info` shows them).
 *
 * On the engine runtime (`SLIPWAY_RUNTIME=engine`) the engine pulls into its own store, with slipway's credentials
 * sent as `X-Registry-Auth` and its progress mapped to `onProgress` (the engine names layers by their digest's first
 * 12 hex digits: `layer` is `sha256:<12 hex>`); `layers` and `manifestDigest` are read from the registry by digest
 * (empty and the digest when this machine cannot reach it); `oci-layout:` is refused (`ERR_UNSUPPORTED`).
 *
 * @throws {@link SlipwayError} `ERR_INVALID_REFERENCE`, `ERR_IMAGE_NOT_PRESENT` (policy `never`), `ERR_IMAGE_NOT_FOUND`,
 *   `ERR_PLATFORM_NOT_FOUND`, `ERR_REGISTRY_AUTH`, `ERR_REGISTRY_UNREACHABLE` (the hint names the mirror and prefix
 *   settings), `ERR_REGISTRY_TIMEOUT`, `ERR_PULL_TIMEOUT`, `ERR_STORE_FULL`, `ERR_ABORTED`, `ERR_CONFIG`.
 * @example
 * // vitest globalSetup: pull once for the whole run, with progress
 * import { pull } from 'slipway';
 * export default async function setup(): Promise<void> {
 *   await pull('postgres:16', { onProgress: (p) => console.log(p.layer.slice(7, 19), p.current, '/', p.total) });
 * }
 */
export async function pull(ref: string, options: PullImageOptions = {}): Promise<PulledImage> {
  // One reading of the settings for the whole pull (it asks for ~10 of them; each read ~8 files before).
  return withSettings(() => pullInScope(ref, options));
}

async function pullInScope(ref: string, options: PullImageOptions): Promise<PulledImage> {
  // On the engine runtime (SLIPWAY_RUNTIME=engine, or auto without user namespaces) the engine's store is the one
  // containers start from.
  const onEngine = await pullOnEngine(ref, { policy: options.policy, platform: options.platform, onProgress: options.onProgress, signal: options.signal, timeout: options.timeout });
  if (onEngine) return onEngine;
  // Rootless, layers belong to the containers' subordinate ids: the keeper (inside its user namespace) applies
  // them, under the mapping start() uses. As root the identity mapping needs no keeper.
  const ownership = process.getuid?.() === 0 ? {} : await layerOwnership();
  const image = await pullToStore(ref, {
    policy: options.policy, platform: options.platform, onProgress: options.onProgress, signal: options.signal, timeout: options.timeout,
    ...ownership,
  });
  return {
    ref: image.ref, digest: image.digest, manifestDigest: image.manifestDigest, platform: image.platform, source: image.source,
    ...(image.pulledFrom ? { pulledFrom: image.pulledFrom } : {}),
    layers: image.layers.map((l) => ({ digest: l.digest, size: l.size })),
  };
}

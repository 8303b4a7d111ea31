/**
 * `pushImage()`: sends a stored image (built, committed or pulled) to a registry with the registry client's auth
 * and credentials: each layer and the config unless the repository has it (HEAD), mounted from the repository it
 * was pulled from when that is on the same registry, else uploaded (one PUT, or PATCH chunks for large blobs);
 * then the OCI manifest under the tag. Plain HTTP only for loopback and registries configured insecure, as pulls.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import { loadConfig, withSettings } from '../config/index.js';
import { MediaType } from './manifest.js';
import { outgoingImage, type StoredImageOptions } from './outgoing.js';
import { parseReference } from './reference.js';
import { RegistryClient, type PushBlob, type RegistryClientOptions } from './registry-client.js';
import { storedImage } from './pull.js';

/**
 * Progress of one blob of a push.
 * @example
 * import { pushImage, type PushProgress } from 'slipway';
 * await pushImage('localhost:5000/app:1', { onProgress: (p: PushProgress) => console.log(p.digest.slice(7, 19), p.status) });
 */
export interface PushProgress {
  digest: string;
  /** Bytes sent so far (`size` once done). */
  current: number;
  size: number;
  /** `exists`: the repository had it; `mounted`: taken from another repository of the registry; `uploaded`: sent. */
  status: 'uploading' | 'exists' | 'mounted' | 'uploaded';
}

/**
 * Options of {@link pushImage}.
 * @example
 * import { pushImage, type PushImageOptions } from 'slipway';
 * const options: PushImageOptions = { to: 'registry.example.com/team/app:1', insecureRegistries: [] };
 * await pushImage('app:test', options);
 */
export interface PushImageOptions extends StoredImageOptions {
  /** The reference to push as (`registry/repo:tag`). @defaultValue the image's own reference */
  to?: string;
  /** Registries spoken to over plain HTTP (loopback always is), besides the `insecureRegistries` setting (`$SLIPWAY_INSECURE_REGISTRIES`, a config file). */
  insecureRegistries?: string[];
  /** Blobs larger than this go up in PATCH chunks of this size. @defaultValue 64 MiB */
  chunkSize?: number;
  /** Blobs sent at once. @defaultValue 3 */
  concurrency?: number;
  onProgress?: (e: PushProgress) => void;
}

/** {@link PushImageOptions} plus the registry client's own (tests: a dispatcher, credentials). */
export interface PushOptions extends PushImageOptions {
  /** Advanced registry client options (retries, time limits, credentials, dispatcher). */
  registry?: Omit<RegistryClientOptions, 'insecureRegistries'>;
}

/**
 * What {@link pushImage} did.
 * @example
 * import { pushImage } from 'slipway';
 * const { ref, digest } = await pushImage('localhost:5000/app:1'); // pull `${ref}@${digest}` elsewhere
 */
export interface PushedImage {
  /** The normalized reference pushed to. */
  ref: string;
  /** The manifest's digest in the registry. */
  digest: string;
  /** Blobs (layers and config) sent, mounted, or already there. */
  uploaded: number;
  mounted: number;
  existing: number;
}

/**
 * Pushes an image from the store to a registry.
 * @throws {@link SlipwayError} `ERR_IMAGE_NOT_PRESENT` (not in the store), `ERR_INVALID_REFERENCE`, `ERR_REGISTRY_AUTH`
 *   (no credentials or no push rights: `docker login` / `podman login`), `ERR_REGISTRY_UNREACHABLE` (the hint names
 *   `insecureRegistries` when a plain-HTTP registry is not listed), `ERR_REGISTRY_TIMEOUT`, `ERR_DIGEST_MISMATCH`,
 *   `ERR_MANIFEST_INVALID`, `ERR_ABORTED`
 * @example
 * import { Container, pushImage } from 'slipway';
 * const ref = await Container.fromDockerfile('./app', { tag: 'localhost:5000/team/app:test' });
 * await pushImage(ref);
 */
export async function pushImage(ref: string, options: PushImageOptions = {}): Promise<PushedImage> {
  return withSettings(() => pushInScope(ref, options), { env: options.env });
}

async function pushInScope(ref: string, options: PushImageOptions): Promise<PushedImage> {
  const o: PushOptions = options;
  const config = loadConfig({ env: options.env });
  const storeDir = options.storeDir ?? config.values.storeDir;
  const target = parseReference(options.to ?? ref);
  if (target.digest) {
    throw new SlipwayError('ERR_INVALID_REFERENCE', `cannot push to ${target.string}: a digest names content, not a place`, { hint: 'push to name:tag; the registry reports the digest' });
  }
  const img = await outgoingImage(ref, { ...options, storeDir });
  const stored = await storedImage(ref, { storeDir, platform: options.platform, env: options.env });
  // A registry it came from (a mirror, or the name before a retag) may lend its blobs; a file it was loaded from
  // (`docker-archive:`, `oci-layout:`) cannot.
  const pulledFrom = stored.pulledFrom && !/^(docker-archive|oci-layout):/.test(stored.pulledFrom) ? parseReference(stored.pulledFrom) : undefined;
  const mountFrom = pulledFrom?.domain === target.domain ? pulledFrom.path : undefined;
  const client = new RegistryClient({ ...o.registry, insecureRegistries: options.insecureRegistries, env: options.env });
  const { domain, path: repo } = target;
  const signal = options.signal;
  const counts = { uploaded: 0, mounted: 0, existing: 0 };
  const blobs: PushBlob[] = [
    ...img.layers.map((l) => ({
      digest: l.desc.digest, size: l.desc.size,
      open: (start: number, end: number) => createReadStream(l.path, { start, end, highWaterMark: 1 << 20 }),
    })),
    { digest: img.config.digest, size: img.config.bytes.length, open: (start: number, end: number) => Readable.from([img.config.bytes.subarray(start, end + 1)]) },
  ];
  const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  const one = async (b: PushBlob): Promise<void> => {
    const report = (status: PushProgress['status'], current: number): void => options.onProgress?.({ digest: b.digest, current, size: b.size, status });
    if (await client.hasBlob(domain, repo, b.digest, { signal })) {
      counts.existing++;
      report('exists', b.size);
      return;
    }
    report('uploading', 0);
    const how = await client.uploadBlob(domain, repo, b, {
      signal, chunkSize: options.chunkSize, mountFrom, onBytes: (n) => report('uploading', n),
    });
    counts[how]++;
    report(how, b.size);
  };
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unique.length) await one(unique[next++]!);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 3, unique.length)) }, worker));
    const digest = await client.putManifest(domain, repo, target.tag ?? 'latest', img.manifest.bytes, MediaType.OciManifest, { signal });
    return { ref: target.string, digest, ...counts };
  } catch (e) {
    throw pushError(e, target.string, domain);
  }
}

/** Pull-worded registry errors, said for a push. */
function pushError(e: unknown, ref: string, domain: string): unknown {
  if (!SlipwayError.is(e)) return e;
  if (e.code === 'ERR_REGISTRY_AUTH') {
    return new SlipwayError('ERR_REGISTRY_AUTH', `pushing ${ref}: ${e.shortMessage}`, {
      hint: `log in to ${domain} (docker login / podman login, or a credential helper) with an account that may push to this repository`, cause: e,
    });
  }
  if (e.code === 'ERR_REGISTRY_UNREACHABLE' || e.code === 'ERR_REGISTRY' || e.code === 'ERR_REGISTRY_TIMEOUT') {
    return new SlipwayError(e.code, `pushing ${ref}: ${e.shortMessage}`, { hint: e.hint, cause: e });
  }
  return e;
}

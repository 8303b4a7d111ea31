/**
 * Images for the engine backend: the engine pulls (our credential lookup passed as `X-Registry-Auth`), honouring
 * the pull policy and the Hub prefix setting; `docker-archive:` files are loaded. The engine keeps its own image
 * store: slipway's store and registry mirrors are not used (a difference documented in ARCHITECTURE.md).
 */
import { stat } from 'node:fs/promises';
import { SlipwayError } from '../../errors.js';
import { configValue } from '../../config/index.js';
import { createCredentialResolver } from '../../image/credentials.js';
import { parseReference } from '../../image/reference.js';
import { applyHubPrefix, pullTimeout, type PullProgress } from '../../image/pull.js';
import { parseManifest } from '../../image/manifest.js';
import { hostPlatform, parsePlatform, selectPlatform, type Platform } from '../../image/platform.js';
import { RegistryClient } from '../../image/registry-client.js';
import { withinPullLimit } from '../../image/timeouts.js';
import { hasStatus, type EngineClient } from '../../engine/client.js';
import { forEachLine } from '../../engine/lines.js';
import { logger } from '../../internal/debug.js';
import { archiveWithoutNames } from './archive-names.js';

const log = logger('engine:image');
/** The native pull's namespace: DEBUG=slipway:image:pull shows a pull's layers on either runtime. */
const pullLog = logger('image:pull');

/** The image config fields the runtime reads. */
export interface EngineImage {
  /** The name containers are created from (what the engine knows it as). */
  name: string;
  /** The engine's image id (`sha256:…` of its config). */
  id: string;
  config: { Healthcheck?: { Test?: string[]; Interval?: number }; Labels?: Record<string, string> | null; StopSignal?: string; User?: string };
  /** From the engine's image inspect. */
  repoDigests?: string[];
  platform?: Platform;
  /** Whether the engine pulled it this time (else it was already there). */
  pulled?: boolean;
}

/** How the engine gets an image: the pull policy, platform, progress, cancellation. */
export interface EnginePullOptions {
  policy?: 'missing' | 'always' | 'never';
  platform?: string;
  signal?: AbortSignal;
  onProgress?: (e: PullProgress) => void;
}

/**
 * {@link ensureImage} bounded as a native pull is: by `timeout` (a `withPullTimeout()`/`pull()` option), else the
 * `pullTimeout` setting. Used by `start()` (an implicit pull) and the public `pull()`. At the limit the request is
 * aborted, which makes the engine cancel its pull (it stops fetching when its client goes; nothing is stored).
 * @throws SlipwayError `ERR_PULL_TIMEOUT` naming the image, the limit and the setting; `ERR_ABORTED` when `signal` aborts it
 */
export async function ensureImageWithin(client: EngineClient, ref: string, opts: EnginePullOptions & { timeout?: number }): Promise<EngineImage> {
  const limit = opts.timeout === undefined ? configValue('pullTimeout') : pullTimeout(opts.timeout);
  return withinPullLimit(ref, limit, opts.signal, (signal) => ensureImage(client, ref, { ...opts, signal }), {
    source: 'the registry is reachable from the engine',
    // The caller's abort is ERR_ABORTED, as natively (the engine client reports the cut request as a failed pull).
    otherwise: (e) => (opts.signal?.aborted && !SlipwayError.is(e, 'ERR_ABORTED')
      ? new SlipwayError('ERR_ABORTED', `the pull of ${ref} was aborted`, { cause: opts.signal.reason })
      : e),
  });
}

/** Makes `ref` present in the engine as the pull policy says; returns its name and config. */
export async function ensureImage(client: EngineClient, ref: string, opts: EnginePullOptions): Promise<EngineImage> {
  if (ref.startsWith('oci-layout:')) {
    throw new SlipwayError('ERR_UNSUPPORTED', `${ref}: OCI layout directories cannot be loaded into a Docker engine`, {
      hint: 'push the image to a registry, use a docker-archive: file, or SLIPWAY_RUNTIME=native',
    });
  }
  if (ref.startsWith('docker-archive:')) return loadArchive(client, ref.slice('docker-archive:'.length), opts.signal);
  // The Hub prefix applies as natively; registry mirrors are the engine's own (its daemon.json `registry-mirrors`).
  const parsed = applyHubPrefix(parseReference(ref), configValue('hubImageNamePrefix'), 'the hubImageNamePrefix setting');
  const name = parsed.digest ? `${parsed.domain}/${parsed.path}@${parsed.digest}` : `${parsed.domain}/${parsed.path}:${parsed.tag ?? 'latest'}`;
  const policy = opts.policy ?? configValue('pullPolicy');
  if (policy !== 'always') {
    const found = await inspect(client, name);
    if (found) return found;
    if (policy === 'never') {
      throw new SlipwayError('ERR_IMAGE_NOT_PRESENT', `${ref} is not in the engine's images and the pull policy is never`, { hint: 'pull it first (docker pull), or use pull policy missing' });
    }
  }
  const lastLine = await pullImage(client, parsed.domain, `${parsed.domain}/${parsed.path}`, parsed.digest ?? parsed.tag ?? 'latest', opts);
  const pulled = await inspect(client, name);
  if (!pulled) {
    throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine's pull of ${ref} ended without an error, but the engine does not list the image (the pull's last line: ${lastLine.slice(0, 300) || 'none'})`, {
      hint: 'pull it with the engine\'s own client (docker pull) to see what the engine says',
    });
  }
  return { ...pulled, pulled: true };
}

async function inspect(client: EngineClient, name: string): Promise<EngineImage | undefined> {
  try {
    const img = await client.call<{ Id: string; Config?: EngineImage['config']; RepoDigests?: string[]; Os?: string; Architecture?: string; Variant?: string }>('GET', `/images/${encodeURIComponent(name)}/json`);
    return {
      name, id: img.Id, config: img.Config ?? {}, repoDigests: img.RepoDigests ?? [],
      ...(img.Os && img.Architecture ? { platform: { os: img.Os, architecture: img.Architecture, ...(img.Variant ? { variant: img.Variant } : {}) } } : {}),
    };
  } catch (err) {
    if (hasStatus(err, 404)) return undefined;
    throw err;
  }
}

/** An engine's auth config for `domain` from our credential lookup (Docker config, helpers), as `docker` sends it. */
export async function engineAuthConfig(domain: string): Promise<{ found: boolean; auth: Record<string, string> }> {
  const creds = await createCredentialResolver({ env: process.env, helpers: configValue('credentialHelpers') })(domain).catch(() => undefined);
  const auth: Record<string, string> = creds?.identityToken ? { identitytoken: creds.identityToken, serveraddress: domain } : { username: creds?.username ?? '', password: creds?.password ?? '', serveraddress: domain };
  return { found: creds !== undefined, auth };
}

async function pullImage(client: EngineClient, domain: string, repo: string, tag: string, opts: EnginePullOptions): Promise<string> {
  const { found: creds, auth: config } = await engineAuthConfig(domain);
  const auth = Buffer.from(JSON.stringify(config)).toString('base64url');
  log('pull %s:%s (credentials: %s)', repo, tag, creds ? 'yes' : 'none');
  const { body } = await client.stream('POST', '/images/create', {
    query: { fromImage: repo, tag, platform: opts.platform }, headers: { 'X-Registry-Auth': auth }, long: true, signal: opts.signal,
  }).catch((err: unknown) => { throw pullError(`${repo}:${tag}`, err); });
  const t0 = Date.now();
  const progress = new EnginePullProgress(opts.onProgress, (layer, bytes) => pullLog('layer %s: %d bytes (engine) in %dms', layer, bytes, Date.now() - t0));
  // Progress is JSON lines; a failure is a line with `error` (the status stays 200).
  let last = '';
  await forEachLine(body, (line) => {
    if (line.trim()) last = line.trim();
    const error = progress.line(line);
    if (error) throw pullError(`${repo}:${tag}`, new Error(error));
  });
  pullLog('%s:%s pulled by the engine in %dms (its last line: %s)', repo, tag, Date.now() - t0, last);
  return last;
}

/** One line of the engine's pull stream (`POST /images/create`). */
interface PullStreamLine {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Maps the engine's pull stream to slipway's {@link PullProgress}: compressed bytes per layer, as the native pull
 * reports them. The engine names a layer by its digest's first 12 hex digits only, so `layer` is
 * `sha256:<those 12>`; a layer's size is known from its first `Downloading` (or `Extracting`) line, and a layer the
 * engine had already reports nothing (its size is not in the stream).
 */
export class EnginePullProgress {
  readonly #onProgress: ((e: PullProgress) => void) | undefined;
  readonly #onLayerDone: ((layer: string, bytes: number) => void) | undefined;
  readonly #layers = new Map<string, { total: number; current: number; done: boolean }>();

  /** @param onLayerDone - called once per layer when its download completed (the debug log) */
  constructor(onProgress: ((e: PullProgress) => void) | undefined, onLayerDone?: (layer: string, bytes: number) => void) {
    this.#onProgress = onProgress;
    this.#onLayerDone = onLayerDone;
  }

  /** Feeds one line; returns the engine's error message when the line reports a failure. */
  line(text: string): string | undefined {
    if (!text.trim()) return undefined;
    let msg: PullStreamLine;
    try { msg = JSON.parse(text) as PullStreamLine; } catch { return undefined; }
    if (msg.error || msg.errorDetail?.message) return msg.error ?? msg.errorDetail?.message;
    if ((!this.#onProgress && !this.#onLayerDone) || !msg.id || !/^[0-9a-f]{12}$/.test(msg.id) || !msg.status) return undefined;
    let l = this.#layers.get(msg.id);
    const total = msg.progressDetail?.total;
    if (!l && total && total > 0) this.#layers.set(msg.id, (l = { total, current: 0, done: false }));
    if (!l || l.done) return undefined;
    const emit = (current: number): void => {
      l.current = Math.min(Math.max(l.current, current), l.total);
      l.done = l.current >= l.total;
      this.#onProgress?.({ layer: `sha256:${msg.id}`, current: l.current, total: l.total });
      if (l.done) this.#onLayerDone?.(`sha256:${msg.id}`, l.total);
    };
    if (msg.status === 'Downloading') emit(msg.progressDetail?.current ?? 0);
    // Extracting starts once the download is complete (its own counter runs over the same compressed bytes).
    else if (/^(Verifying Checksum|Download complete|Extracting|Pull complete)$/.test(msg.status)) emit(l.total);
    return undefined;
  }
}

function pullError(ref: string, err: unknown): SlipwayError {
  const text = (err as Error).message;
  if (/not found|manifest unknown|does not exist|404/i.test(text)) return new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine could not find ${ref}: ${text}`, { cause: err, hint: 'check the repository name and tag' });
  if (/unauthorized|authentication|auth credentials|denied/i.test(text)) return new SlipwayError('ERR_REGISTRY_AUTH', `the registry refused the engine's pull of ${ref}: ${text}`, { cause: err, hint: 'docker login, or a credential helper in ~/.docker/config.json' });
  return new SlipwayError('ERR_REGISTRY', `the engine could not pull ${ref}: ${text}`, { cause: err });
}

async function loadArchive(client: EngineClient, file: string, signal?: AbortSignal): Promise<EngineImage> {
  await stat(file).catch((e: unknown) => {
    throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `docker archive ${file} does not exist`, { cause: e, hint: 'use docker-archive:<file.tar> (as written by docker save)' });
  });
  // Not the archive's own names: it would tag any image it likes (archive-names.ts).
  const archive = archiveWithoutNames(file);
  let refused: unknown;
  archive.once('error', (e) => { refused = e; });
  let text: string;
  try {
    const { body } = await client.stream('POST', '/images/load', { query: { quiet: 1 }, rawBody: archive, headers: { 'content-type': 'application/x-tar' }, long: true, signal });
    text = (await body.toArray()).map(String).join('');
  } catch (e) {
    throw SlipwayError.is(refused) ? refused : e;
  }
  if (SlipwayError.is(refused)) throw refused;
  const m = /Loaded image(?: ID)?: ([^\s"\\]+)/.exec(text);
  if (!m) throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine loaded ${file} but named no image: ${text.slice(0, 300)}`);
  const found = await inspect(client, m[1]!);
  if (!found) throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine loaded ${m[1]} from ${file} but does not list it`);
  return found;
}

/** What `pull()` reports on the engine runtime (the API's `PulledImage`). */
export interface EnginePulledImage {
  ref: string;
  digest: string;
  manifestDigest: string;
  platform: Platform;
  source: 'cache' | 'registry' | 'docker-archive';
  pulledFrom?: string;
  layers: { digest: string; size: number }[];
}

/**
 * The public `pull()` on the engine runtime: the engine pulls into its own store (policy, platform, progress,
 * credentials as for a start), bounded by `timeout` as the native pull is. The engine's inspect gives the digest
 * and platform; the manifest digest and the layers' compressed digests and sizes, which the engine does not report,
 * are read from the registry by digest (one or two manifest GETs). Where this machine cannot reach that registry (a
 * remote engine's private one), `manifestDigest` is the digest and `layers` is empty (logged under
 * `DEBUG=slipway:engine:image`).
 */
export async function pullEngineImage(client: EngineClient, ref: string, opts: EnginePullOptions & { timeout?: number }): Promise<EnginePulledImage> {
  const image = await ensureImageWithin(client, ref, opts);
  const platform = image.platform ?? (opts.platform ? parsePlatform(opts.platform) : hostPlatform());
  if (ref.startsWith('docker-archive:')) {
    return { ref, digest: image.name, manifestDigest: image.name, platform, source: 'docker-archive', layers: [] };
  }
  const parsed = parseReference(ref);
  const named = parseReference(image.name);
  const digest = parsed.digest ?? repoDigest(image.repoDigests ?? [], named.name) ?? '';
  const source = image.pulled ? 'registry' : 'cache';
  const base = { ref: parsed.string, digest, platform, source, ...(named.name !== parsed.name ? { pulledFrom: image.name } : {}) } as const;
  if (!digest) return { ...base, manifestDigest: '', layers: [] };
  try {
    const registry = new RegistryClient({ insecureRegistries: configValue('insecureRegistries') });
    let m = await registry.getManifest(named.domain, named.path, digest, { signal: opts.signal });
    let parsedManifest = parseManifest(m.body, m.contentType, `manifest of ${named.name}@${digest}`);
    if (parsedManifest.kind === 'index') {
      const entry = selectPlatform(parsedManifest.manifests, platform, named.name);
      m = await registry.getManifest(named.domain, named.path, entry.digest, { signal: opts.signal });
      parsedManifest = parseManifest(m.body, m.contentType, `manifest of ${named.name}@${entry.digest}`);
    }
    if (parsedManifest.kind !== 'manifest') throw new Error('an index inside an index');
    return { ...base, manifestDigest: m.digest, layers: parsedManifest.layers.map((l) => ({ digest: l.digest, size: l.size })) };
  } catch (err) {
    log('%s: the registry did not describe the layers from here (%s); reporting the engine\'s digest only', image.name, (err as Error).message);
    return { ...base, manifestDigest: digest, layers: [] };
  }
}

/** The digest of `name` among an image's `RepoDigests` (`127.0.0.1:5000/library/busybox@sha256:…`, Hub names familiar). */
function repoDigest(repoDigests: string[], name: string): string | undefined {
  for (const rd of repoDigests) {
    const at = rd.lastIndexOf('@');
    if (at < 0) continue;
    try { if (parseReference(rd.slice(0, at)).name === name) return rd.slice(at + 1); } catch { /* not a name */ }
  }
  return repoDigests[0]?.split('@')[1];
}

/** What `pushImage()` reports on the engine runtime (the API's `PushedImage`): the engine counts layers only (not the config). */
export interface EnginePushedImage {
  ref: string;
  digest: string;
  uploaded: number;
  mounted: number;
  existing: number;
}

/**
 * `pushImage()` of an image the engine holds (its builds, commits and pulls on the engine runtime): tagged as `to`
 * when that differs (`POST /images/{name}/tag`), then `POST /images/{name}/push` with our credentials for the
 * destination as `X-Registry-Auth`, as `docker push`. `undefined` when the engine does not hold `ref`.
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` (a destination by digest only), `ERR_REGISTRY_AUTH`,
 *   `ERR_REGISTRY_UNREACHABLE`, `ERR_REGISTRY`
 */
export async function pushEngineImage(client: EngineClient, ref: string, opts: { to?: string; signal?: AbortSignal } = {}): Promise<EnginePushedImage | undefined> {
  const src = parseReference(ref);
  if (!(await inspect(client, src.string))) return undefined;
  const dest = parseReference(opts.to ?? ref);
  if (dest.tag === undefined) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `pushImage: ${dest.string} names no tag: the engine pushes a tag`, { hint: 'push to name:tag (the digest is in the result)' });
  }
  if (dest.string !== src.string) {
    await client.call('POST', `/images/${encodeURIComponent(src.string)}/tag`, { query: { repo: dest.name, tag: dest.tag } });
  }
  const { found, auth } = await engineAuthConfig(dest.domain);
  log('push %s (credentials: %s)', dest.string, found ? 'yes' : 'none');
  const { body } = await client.stream('POST', `/images/${encodeURIComponent(dest.name)}/push`, {
    query: { tag: dest.tag }, headers: { 'X-Registry-Auth': Buffer.from(JSON.stringify(auth)).toString('base64url') }, long: true, signal: opts.signal,
  }).catch((err: unknown) => { throw pushError(dest, err); });
  const layers = { uploaded: new Set<string>(), mounted: new Set<string>(), existing: new Set<string>() };
  let digest: string | undefined;
  const take = (raw: string): void => {
    if (!raw.trim()) return;
    let line: { id?: string; status?: string; error?: string; errorDetail?: { message?: string }; aux?: { Digest?: string } };
    try {
      line = JSON.parse(raw) as typeof line;
    } catch {
      return;
    }
    if (line.error !== undefined || line.errorDetail !== undefined) throw pushError(dest, new Error(line.errorDetail?.message ?? line.error ?? 'the push failed'));
    if (line.aux?.Digest) digest = line.aux.Digest;
    if (!line.id) return;
    if (line.status === 'Pushed') layers.uploaded.add(line.id);
    else if (line.status === 'Layer already exists') layers.existing.add(line.id);
    else if (/^Mounted from /.test(line.status ?? '')) layers.mounted.add(line.id);
  };
  await forEachLine(body, take);
  if (!digest) throw pushError(dest, new Error('the engine ended the push without a digest'));
  return { ref: dest.string, digest, uploaded: layers.uploaded.size, mounted: layers.mounted.size, existing: layers.existing.size };
}

function pushError(dest: { string: string; domain: string }, err: unknown): SlipwayError {
  const text = (err as Error).message;
  if (/unauthorized|authentication required|no basic auth credentials|denied/i.test(text)) {
    return new SlipwayError('ERR_REGISTRY_AUTH', `the registry refused the engine's push of ${dest.string}: ${text}`, { cause: err, hint: `log in to ${dest.domain} (docker login ${dest.domain}, or a credential helper in ~/.docker/config.json): the credentials are sent with the push` });
  }
  if (/connection refused|no such host|dial tcp|i\/o timeout|HTTP response to HTTPS client/i.test(text)) {
    return new SlipwayError('ERR_REGISTRY_UNREACHABLE', `the engine could not reach ${dest.domain} to push ${dest.string}: ${text}`, { cause: err, hint: "check the registry's address; a plain-HTTP registry other than loopback must be in the engine's insecure-registries (daemon.json)" });
  }
  return new SlipwayError('ERR_REGISTRY', `the engine could not push ${dest.string}: ${text}`, { cause: err });
}

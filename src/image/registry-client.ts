/**
 * A small Docker Registry HTTP API v2 client on undici: ping, auth challenges, manifests, blobs,
 * manual redirects (never forwarding Authorization to another host), retries with backoff,
 * `Retry-After`, resumable blob streams and size limits on what is read into memory.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import pRetry from 'p-retry';
import { Agent, request, type Dispatcher } from 'undici';
import { logger } from '../internal/debug.js';
import { SlipwayError } from '../errors.js';
import { Authenticator, parseWwwAuthenticate, type Challenge } from './auth.js';
import { createCredentialResolver, type CredentialResolver } from './credentials.js';
import { loadConfig } from '../config/index.js';
import { guardBody, registryTimeoutError, resolveTimeouts, timeoutPhase, type RegistryTimeouts } from './timeouts.js';

const debug = logger('image:registry');

/** Accept header for manifests: OCI and Docker schema 2, single and multi-platform. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** Default limit for manifests and configs read into memory: 4 MiB. */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 << 20;

/** Options for {@link RegistryClient}. */
export interface RegistryClientOptions {
  /**
   * Hosts (`host[:port]`) spoken to over plain HTTP, in addition to loopback hosts and
   * `$SLIPWAY_INSECURE_REGISTRIES` (comma-separated).
   * @example ['registry.internal:5000']
   */
  insecureRegistries?: string[];
  /** Where credentials come from. @defaultValue Docker config + containers auth.json */
  credentials?: CredentialResolver;
  /** Largest manifest or config read into memory. @defaultValue 4 MiB */
  maxManifestBytes?: number;
  /** Retry policy (p-retry). @defaultValue `{ retries: 4, minTimeout: 500, maxTimeout: 8000 }` */
  retry?: { retries?: number; minTimeout?: number; maxTimeout?: number; factor?: number };
  /** Longest `Retry-After` honoured, in ms. @defaultValue 60000 */
  maxRetryAfterMs?: number;
  /**
   * Time limits per request phase, in ms (each retry gets them afresh). The connect limit applies only to
   * the default dispatcher. @defaultValue connect 15000, headers 30000, body 30000, or
   * `$SLIPWAY_REGISTRY_CONNECT_TIMEOUT`, `$SLIPWAY_REGISTRY_HEADERS_TIMEOUT`, `$SLIPWAY_REGISTRY_BODY_TIMEOUT`
   * @example { headers: 120_000 }
   */
  timeouts?: Partial<RegistryTimeouts>;
  /** undici dispatcher. @defaultValue an undici Agent with the connect timeout */
  dispatcher?: Dispatcher;
  /** @defaultValue `slipway/<version>` */
  userAgent?: string;
  env?: NodeJS.ProcessEnv;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** A fetched manifest. */
export interface FetchedManifest {
  body: Buffer;
  /** Content-Type as sent by the registry (without parameters). */
  contentType: string;
  /** sha256 of the body. */
  digest: string;
}

/** A request body: bytes, or a stream opened afresh for each attempt. */
type WriteBody = Buffer | Readable;

/** A push request: method, extra headers, and how to make its body. */
interface WriteRequest {
  method: 'HEAD' | 'POST' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  body?: () => WriteBody;
}

/** A blob to push: its digest and size, and how to read it (any byte range). */
export interface PushBlob {
  digest: string;
  size: number;
  /** Opens the blob's bytes from `start` to `end` (inclusive). */
  open: (start: number, end: number) => WriteBody;
}

/** Per-call options of an upload. */
export interface UploadOptions extends CallOptions {
  /** Upload in PATCH chunks of this many bytes when the blob is larger; else one PUT. @defaultValue 64 MiB */
  chunkSize?: number;
  /** A repository of the same registry that has the blob: asked first to mount it (no bytes sent). */
  mountFrom?: string;
  /** Called with the bytes sent so far. */
  onBytes?: (sent: number) => void;
}

interface Resp {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: URL;
}

class HttpStatusError extends Error {
  constructor(readonly statusCode: number, message: string, readonly host: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** A response body that ended early (connection closed, reset, or shorter than announced). */
class TruncatedError extends Error {
  constructor(message: string, readonly host: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Which host an error came from (a redirect may lead to a CDN), for messages. */
const errorHost = new WeakMap<object, string>();
function tagHost<T>(e: T, host: string): T {
  if (e && typeof e === 'object' && !errorHost.has(e)) errorHost.set(e, host);
  return e;
}

function errnoCode(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** TLS handshake or certificate failures: the only errors where plain HTTP (insecure registries) is the likely fix. */
function isTlsError(e: unknown): boolean {
  const code = errnoCode(e) ?? '';
  if (/^(ERR_SSL|ERR_TLS|EPROTO$)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return true;
  const msg = String((e as Error)?.message ?? '') + String(((e as { cause?: Error })?.cause)?.message ?? '');
  return /wrong version number|ssl3?_|tls|certificate/i.test(msg);
}

/** Errors that mean nothing is listening or the name does not resolve: retrying only delays them. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Connection errors that, after the response started, mean the body was cut short. */
const CUT_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_ABORTED']);

/**
 * Attempts that may stall in the body before giving up: one stall can be a bad connection (the retry
 * resumes), two in a row is a registry that is this slow, and more retries would only multiply the wait.
 */
const MAX_BODY_STALLS = 2;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

function header(h: Resp['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Whether `domain` (host[:port]) is a loopback registry that Docker would speak HTTP to. */
export function isLoopbackRegistry(domain: string): boolean {
  let host = domain;
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else host = host.replace(/:\d+$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** Drops a body we will not read, without an unhandled 'aborted' error. */
function discard(res: Resp): void {
  res.body.on('error', () => {});
  res.body.destroy();
}

function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal, what?: string): SlipwayError {
  return new SlipwayError('ERR_ABORTED', what ? `the pull was aborted while fetching ${what}` : 'the pull was aborted', { cause: signal.reason });
}

/** Talks to Docker Registry v2 / OCI distribution registries. */
export class RegistryClient {
  readonly #insecure: Set<string>;
  readonly #creds: CredentialResolver;
  readonly #auth: Authenticator;
  readonly #challenges = new Map<string, Promise<Challenge[]>>();
  readonly #maxManifest: number;
  readonly #retry: Required<NonNullable<RegistryClientOptions['retry']>>;
  readonly #maxRetryAfter: number;
  readonly #timeouts: RegistryTimeouts;
  readonly #dispatcher: Dispatcher;
  readonly #ua: string;

  constructor(opts: RegistryClientOptions = {}) {
    const env = opts.env ?? process.env;
    const config = loadConfig({ env }).values;
    this.#insecure = new Set([...(opts.insecureRegistries ?? []), ...config.insecureRegistries].map((s) => s.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '')));
    this.#creds = opts.credentials ?? createCredentialResolver({ env, helpers: config.credentialHelpers });
    this.#maxManifest = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.#retry = { retries: 4, minTimeout: 500, maxTimeout: 8000, factor: 2, ...opts.retry };
    this.#maxRetryAfter = opts.maxRetryAfterMs ?? 60_000;
    this.#timeouts = resolveTimeouts(opts.timeouts, env);
    // undici's global dispatcher waits 300 s for headers and 300 s between body chunks.
    this.#dispatcher = opts.dispatcher ?? new Agent({
      connect: { timeout: this.#timeouts.connect }, headersTimeout: this.#timeouts.headers, bodyTimeout: this.#timeouts.body,
    });
    this.#ua = opts.userAgent ?? 'slipway/0.1';
    this.#auth = new Authenticator({ dispatcher: this.#dispatcher, userAgent: this.#ua, timeouts: this.#timeouts });
  }

  /** The per-phase time limits this client applies. */
  get timeouts(): Readonly<RegistryTimeouts> {
    return this.#timeouts;
  }

  /** The API base URL for a registry domain (`docker.io` → `https://registry-1.docker.io`). */
  baseUrl(domain: string): string {
    if (domain === 'docker.io') return 'https://registry-1.docker.io';
    const plain = isLoopbackRegistry(domain) || this.#insecure.has(domain);
    return `${plain ? 'http' : 'https'}://${domain}`;
  }

  /**
   * `GET /v2/`: learns the registry's auth challenges (cached per domain).
   * @throws {@link SlipwayError} `ERR_REGISTRY_UNREACHABLE`, `ERR_REGISTRY_TIMEOUT` or `ERR_REGISTRY`.
   */
  ping(domain: string, opts: CallOptions = {}): Promise<Challenge[]> {
    let p = this.#challenges.get(domain);
    if (!p) {
      p = this.#withRetry(domain, `registry ${domain} (GET /v2/)`, async () => {
        const res = await this.#raw(new URL('/v2/', this.baseUrl(domain)), { method: 'GET', headers: {}, signal: opts.signal });
        if (res.statusCode === 200 || res.statusCode === 401 || res.statusCode === 404) await this.#drain(res);
        if (res.statusCode === 200) return [];
        if (res.statusCode === 401) return parseWwwAuthenticate(header(res.headers, 'www-authenticate') ?? '');
        // Some registries answer 404 on /v2/ yet serve the API; carry on unauthenticated.
        if (res.statusCode === 404) return [];
        throw this.#statusError(res, `ping ${domain}`);
      }, opts.signal);
      this.#challenges.set(domain, p);
      p.catch(() => this.#challenges.delete(domain));
    }
    return p;
  }

  /**
   * Fetches a manifest by tag or digest, up to the manifest size limit.
   * @throws {@link SlipwayError} `ERR_IMAGE_NOT_FOUND`, `ERR_TOO_LARGE`, `ERR_DIGEST_MISMATCH`, `ERR_REGISTRY*`.
   */
  async getManifest(domain: string, repo: string, reference: string, opts: CallOptions = {}): Promise<FetchedManifest> {
    const what = `manifest ${domain}/${repo}${reference.includes(':') ? '@' : ':'}${reference}`;
    return this.#withRetry(domain, what, async () => {
      const res = await this.#send(domain, repo, `/v2/${repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT.join(', ') }, opts.signal);
      if (res.statusCode !== 200) throw this.#statusError(res, what);
      const body = await this.#readAll(res, this.#maxManifest, what);
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const dcd = header(res.headers, 'docker-content-digest');
      if (dcd && dcd.startsWith('sha256:') && dcd !== digest) {
        throw new SlipwayError('ERR_DIGEST_MISMATCH', `${what}: body digest ${digest} differs from Docker-Content-Digest ${dcd}`, {
          hint: 'the registry or a proxy altered the manifest; retry or check the registry',
        });
      }
      if (reference.startsWith('sha256:') && reference !== digest) {
        throw new SlipwayError('ERR_DIGEST_MISMATCH', `${what}: received manifest has digest ${digest}`, {
          hint: 'the registry served different content than the digest pinned in the reference',
        });
      }
      const contentType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
      return { body, contentType, digest };
    }, opts.signal);
  }

  /**
   * Fetches a small blob (a config) into memory, verifying its sha256 digest.
   * @throws {@link SlipwayError} `ERR_TOO_LARGE` above `maxBytes` (default: the manifest limit).
   */
  async getBlob(domain: string, repo: string, digest: string, opts: CallOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const what = `blob ${domain}/${repo}@${digest}`;
    return this.#withRetry(domain, what, async () => {
      const res = await this.#send(domain, repo, `/v2/${repo}/blobs/${digest}`, {}, opts.signal);
      if (res.statusCode !== 200) throw this.#statusError(res, what);
      const body = await this.#readAll(res, opts.maxBytes ?? this.#maxManifest, what);
      const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (digest.startsWith('sha256:') && got !== digest) {
        throw new SlipwayError('ERR_DIGEST_MISMATCH', `${what}: content has digest ${got}`, { hint: 'the registry served corrupt content; retry' });
      }
      return body;
    }, opts.signal);
  }

  /**
   * Streams a blob. Transient failures (network errors, truncation, a stalled body, 5xx, 429) are retried with
   * backoff and the download resumes where it stopped: with `Range` when the server honours it, otherwise by
   * skipping the bytes already delivered. The caller verifies the digest.
   *
   * @param size - the expected size from the descriptor: a shorter stream counts as truncated.
   */
  async *blobStream(domain: string, repo: string, digest: string, size: number | undefined, opts: CallOptions = {}): AsyncGenerator<Buffer> {
    const what = `blob ${domain}/${repo}@${digest}`;
    let delivered = 0;
    let attempt = 0;
    let stalls = 0;
    for (;;) {
      attempt++;
      let host = domain;
      try {
        const headers: Record<string, string> = {};
        if (delivered > 0) headers.range = `bytes=${delivered}-`;
        const res = await this.#send(domain, repo, `/v2/${repo}/blobs/${digest}`, headers, opts.signal);
        host = res.url.host;
        let skip = 0;
        if (res.statusCode === 206 && delivered > 0) {
          const cr = header(res.headers, 'content-range') ?? '';
          const m = /bytes (\d+)-/.exec(cr);
          if (!m || Number(m[1]) !== delivered) {
            discard(res);
            throw new Error(`server answered Range bytes=${delivered}- with Content-Range "${cr}"`);
          }
        } else if (res.statusCode === 200) {
          skip = delivered;
        } else {
          throw this.#statusError(res, what);
        }
        if (size !== undefined) {
          const len = Number(header(res.headers, 'content-length'));
          const expected = size - delivered + skip;
          if (Number.isFinite(len) && len > expected) {
            discard(res);
            throw new SlipwayError('ERR_TOO_LARGE', `${what}: server sends ${len} bytes, descriptor says ${size}`, { hint: 'the registry serves content that does not match the manifest' });
          }
        }
        try {
          for await (const chunk of guardBody(res.body, this.#timeouts.body)) {
            let c = chunk;
            if (skip > 0) {
              if (c.length <= skip) {
                skip -= c.length;
                continue;
              }
              c = c.subarray(skip);
              skip = 0;
            }
            if (size !== undefined && delivered + c.length > size) {
              throw new SlipwayError('ERR_TOO_LARGE', `${what}: more than the ${size} bytes the descriptor announced`, { hint: 'the registry serves content that does not match the manifest' });
            }
            delivered += c.length;
            yield c;
          }
        } catch (e) {
          throw this.#bodyError(e, host, `the connection closed after ${delivered}${size !== undefined ? ` of ${size}` : ''} bytes`);
        }
        if (size !== undefined && delivered < size) throw new TruncatedError(`the body ended after ${delivered} of ${size} bytes`, host);
        return;
      } catch (e) {
        if (opts.signal?.aborted) throw abortError(opts.signal, what);
        tagHost(e, host);
        const retryAfter = this.#retryable(e);
        if (timeoutPhase(e) === 'body') stalls++;
        if (retryAfter === false || attempt > this.#retry.retries || stalls >= MAX_BODY_STALLS) throw this.#finalError(e, what, domain, attempt);
        const backoff = Math.min(this.#retry.maxTimeout, this.#retry.minTimeout * this.#retry.factor ** (attempt - 1));
        debug('%s: attempt %d failed at byte %d (%s); retrying in %dms', what, attempt, delivered, (e as Error).message, Math.max(backoff, retryAfter));
        await sleep(Math.max(backoff, retryAfter), opts.signal);
      }
    }
  }

  /**
   * Whether the repository has the blob (`HEAD /v2/<repo>/blobs/<digest>`), asked with push rights.
   * @throws {@link SlipwayError} `ERR_REGISTRY_AUTH`, `ERR_REGISTRY*`
   */
  async hasBlob(domain: string, repo: string, digest: string, opts: CallOptions = {}): Promise<boolean> {
    const what = `blob ${domain}/${repo}@${digest}`;
    return this.#withRetry(domain, what, async () => {
      const res = await this.#send(domain, repo, `/v2/${repo}/blobs/${digest}`, {}, opts.signal, { method: 'HEAD' });
      discard(res);
      if (res.statusCode === 200) return true;
      if (res.statusCode === 404) return false;
      throw this.#statusError(res, `HEAD ${what}`);
    }, opts.signal);
  }

  /**
   * Uploads a blob: a cross-repository mount when `mountFrom` is given and the registry agrees, else a POST for an
   * upload session and then one PUT (monolithic) or PATCH chunks and a closing PUT. The registry checks the digest.
   * @returns how the blob got there
   * @throws {@link SlipwayError} `ERR_REGISTRY_AUTH` (no push rights), `ERR_DIGEST_MISMATCH`, `ERR_REGISTRY*`
   */
  async uploadBlob(domain: string, repo: string, blob: PushBlob, opts: UploadOptions = {}): Promise<'mounted' | 'uploaded'> {
    const what = `upload of blob ${blob.digest} to ${domain}/${repo}`;
    return this.#withRetry(domain, what, async () => {
      const mount = opts.mountFrom && opts.mountFrom !== repo ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(opts.mountFrom)}` : '';
      const start = await this.#send(domain, repo, `/v2/${repo}/blobs/uploads/${mount}`, { 'content-length': '0' }, opts.signal, { method: 'POST' });
      discard(start);
      if (start.statusCode === 201 && mount) return 'mounted';
      if (start.statusCode !== 202) throw this.#statusError(start, `${what} (POST)`);
      let location = this.#location(start, what);
      const chunk = Math.max(1, opts.chunkSize ?? 64 << 20);
      let sent = 0;
      if (blob.size > chunk) {
        while (sent < blob.size) {
          const end = Math.min(blob.size, sent + chunk) - 1;
          const from = sent;
          const res = await this.#send(domain, repo, location.pathname + location.search, {
            'content-type': 'application/octet-stream', 'content-length': String(end - from + 1), 'content-range': `${from}-${end}`,
          }, opts.signal, { method: 'PATCH', body: () => blob.open(from, end) }, location);
          discard(res);
          if (res.statusCode !== 202) throw this.#statusError(res, `${what} (PATCH ${from}-${end})`);
          location = this.#location(res, what);
          sent = end + 1;
          opts.onBytes?.(sent);
        }
      }
      const put = new URL(location);
      put.searchParams.set('digest', blob.digest);
      const last = sent < blob.size;
      const res = await this.#send(domain, repo, put.pathname + put.search, {
        'content-type': 'application/octet-stream', 'content-length': String(last ? blob.size : 0),
      }, opts.signal, { method: 'PUT', ...(last ? { body: () => blob.open(0, blob.size - 1) } : {}) }, put);
      discard(res);
      if (res.statusCode === 400) {
        throw new SlipwayError('ERR_DIGEST_MISMATCH', `${what}: the registry refused the blob (HTTP 400): its content does not match ${blob.digest}`, { hint: 'the blob in the store is corrupt: pull or build the image again' });
      }
      if (res.statusCode !== 201) throw this.#statusError(res, `${what} (PUT)`);
      opts.onBytes?.(blob.size);
      return 'uploaded';
    }, opts.signal);
  }

  /**
   * Puts a manifest under a tag or digest.
   * @returns the digest the registry reports (checked against the body's)
   * @throws {@link SlipwayError} `ERR_REGISTRY_AUTH`, `ERR_MANIFEST_INVALID` (the registry refused it, e.g. a blob it lacks), `ERR_REGISTRY*`
   */
  async putManifest(domain: string, repo: string, reference: string, body: Buffer, mediaType: string, opts: CallOptions = {}): Promise<string> {
    const what = `manifest ${domain}/${repo}${reference.includes(':') ? '@' : ':'}${reference}`;
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    return this.#withRetry(domain, what, async () => {
      const res = await this.#send(domain, repo, `/v2/${repo}/manifests/${reference}`, { 'content-type': mediaType, 'content-length': String(body.length) }, opts.signal, { method: 'PUT', body: () => body });
      if (res.statusCode === 400) {
        const text = (await this.#readAll(res, 64 << 10, what).catch(() => Buffer.alloc(0))).toString('utf8');
        throw new SlipwayError('ERR_MANIFEST_INVALID', `${what}: the registry refused the manifest (HTTP 400): ${text.slice(0, 300)}`, { hint: 'a layer or the config may be missing in the repository; push again' });
      }
      discard(res);
      if (res.statusCode !== 201) throw this.#statusError(res, `PUT ${what}`);
      const dcd = header(res.headers, 'docker-content-digest');
      if (dcd && dcd !== digest) throw new SlipwayError('ERR_DIGEST_MISMATCH', `${what}: the registry stored digest ${dcd}, the manifest sent has ${digest}`, { hint: 'a proxy or the registry altered the manifest' });
      return digest;
    }, opts.signal);
  }

  /** The upload URL a registry answered with (`Location`, relative or absolute; must stay on the registry's origin). */
  #location(res: Resp, what: string): URL {
    const loc = header(res.headers, 'location');
    if (!loc) throw new SlipwayError('ERR_REGISTRY', `${what}: the registry gave no upload location`, { hint: 'this is not an OCI / Docker v2 registry that accepts pushes' });
    const url = new URL(loc, res.url);
    if (url.origin !== res.url.origin) {
      throw new SlipwayError('ERR_REGISTRY', `${what}: the registry sent the upload to another origin (${url.origin})`, { hint: 'slipway sends credentials and layers only to the registry named in the reference' });
    }
    return url;
  }

  /** Returns false if not retryable, else the minimum delay (Retry-After) in ms. */
  #retryable(e: unknown): number | false {
    if (e instanceof HttpStatusError) {
      if (e.statusCode === 429 || e.statusCode >= 500) return Math.min(e.retryAfterMs ?? 0, this.#maxRetryAfter);
      return false;
    }
    if (SlipwayError.is(e)) return false;
    // A registry that accepted no connection or sent no headers within the limit would only make every retry
    // wait the limit again; a stalled body is retried (the next attempt resumes where it stopped).
    const phase = timeoutPhase(e);
    if (phase === 'connect' || phase === 'headers') return false;
    // Nobody listening / no such host: retrying only delays the error (a test suite waits ~8 s for nothing).
    if (UNREACHABLE_CODES.has(errnoCode(e) ?? '')) return false;
    if (isTlsError(e)) return false;
    return 0; // network error, truncation
  }

  #finalError(e: unknown, what: string, domain: string, attempts: number): unknown {
    if (SlipwayError.is(e)) return e;
    const host = (e && typeof e === 'object' ? errorHost.get(e) : undefined) ?? domain;
    if (e instanceof HttpStatusError) {
      if (e.statusCode === 404) {
        return new SlipwayError('ERR_IMAGE_NOT_FOUND', `${what}: not found (404)`, { hint: 'check the repository name and tag', cause: e });
      }
      if (e.statusCode === 401 || e.statusCode === 403) {
        return new SlipwayError('ERR_REGISTRY_AUTH', `${what}: HTTP ${e.statusCode} from ${e.host}`, {
          hint: 'log in with docker login / podman login, or check that the repository exists and you may pull it', cause: e,
        });
      }
      if (e.statusCode === 429) {
        return new SlipwayError('ERR_REGISTRY', `${what}: rate limited (429) after retries`, { hint: 'log in to raise the limit, or set SLIPWAY_REGISTRY_MIRROR=mirror.gcr.io (or registryMirrors in slipway.config.json)', cause: e });
      }
      if (e.statusCode >= 500) {
        return new SlipwayError('ERR_REGISTRY', `${what}: registry ${e.host} answered HTTP ${e.statusCode} (a server error) on ${attempts} attempt${attempts === 1 ? '' : 's'}`, {
          hint: `the registry itself is failing: retry later, check ${e.host}'s status or logs, or pull through a mirror (registryMirrors / SLIPWAY_REGISTRY_MIRROR for Docker Hub images, hubImageNamePrefix / SLIPWAY_HUB_IMAGE_NAME_PREFIX for a pull-through cache)`,
          cause: e,
        });
      }
      return new SlipwayError('ERR_REGISTRY', `${what}: ${e.message}`, {
        hint: 'the registry refused the request; check the image reference, and that this is an OCI / Docker v2 registry', cause: e,
      });
    }
    const phase = timeoutPhase(e);
    if (phase) return registryTimeoutError(phase, host, what, this.#timeouts, e);
    if (e instanceof TruncatedError) {
      return new SlipwayError('ERR_REGISTRY', `${what}: registry ${e.host} cut the transfer short: ${e.message} (${attempts} attempt${attempts === 1 ? '' : 's'})`, {
        hint: 'the registry or a proxy between closed the connection mid-body; retry, and check the registry\'s logs or the proxy\'s size and time limits',
        cause: e,
      });
    }
    const msg = (e as Error).message;
    if (isTlsError(e)) {
      return new SlipwayError('ERR_REGISTRY_UNREACHABLE', `${what}: TLS with ${host} failed: ${msg}`, {
        hint: `if ${domain} serves plain HTTP, list it in SLIPWAY_INSECURE_REGISTRIES (or insecureRegistries in slipway.config.json); if its certificate comes from a private CA, set NODE_EXTRA_CA_CERTS`,
        cause: e,
      });
    }
    return new SlipwayError('ERR_REGISTRY_UNREACHABLE', `${what}: ${msg}`, {
      hint: `check that a registry is running at ${host} and reachable from here (address, port, DNS, proxy)`, cause: e,
    });
  }

  /** Classifies an error while reading a body: timeouts and our own errors pass, a closed connection is a truncation. */
  #bodyError(e: unknown, host: string, truncated: string): unknown {
    if (SlipwayError.is(e) || timeoutPhase(e)) return tagHost(e, host);
    if (CUT_CODES.has(errnoCode(e) ?? '') || /closed|aborted|terminated|premature/i.test(String((e as Error)?.message))) {
      return new TruncatedError(truncated, host, { cause: e });
    }
    return tagHost(e, host);
  }

  async #withRetry<T>(domain: string, what: string, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    let attempts = 0;
    let stalls = 0;
    return pRetry(async () => {
      attempts++;
      if (signal?.aborted) throw new pRetry.AbortError(abortError(signal, what) as unknown as Error);
      try {
        return await fn();
      } catch (e) {
        if (signal?.aborted) throw new pRetry.AbortError(abortError(signal, what) as unknown as Error);
        const r = this.#retryable(e);
        if (timeoutPhase(e) === 'body') stalls++;
        if (r === false || stalls >= MAX_BODY_STALLS) throw new pRetry.AbortError(this.#finalError(e, what, domain, attempts) as Error);
        const err = e instanceof Error ? e : new Error(String(e));
        (err as Error & { retryAfterMs?: number }).retryAfterMs = r;
        throw err;
      }
    }, {
      retries: this.#retry.retries,
      minTimeout: this.#retry.minTimeout,
      maxTimeout: this.#retry.maxTimeout,
      factor: this.#retry.factor,
      onFailedAttempt: async (err) => {
        debug('%s: attempt %d failed: %s', what, err.attemptNumber, err.message);
        const ra = (err as Error & { retryAfterMs?: number }).retryAfterMs ?? 0;
        if (ra > 0) await sleep(ra, signal);
      },
    }).catch((e: unknown) => {
      throw this.#finalError(e, what, domain, attempts);
    });
  }

  #statusError(res: Resp, what: string): HttpStatusError {
    discard(res);
    return new HttpStatusError(res.statusCode, `${what}: HTTP ${res.statusCode} from ${res.url.host}`, res.url.host, parseRetryAfter(header(res.headers, 'retry-after')));
  }

  /** Reads and drops a body we do not need (keeps the connection reusable); at most 64 KiB, then the connection goes. */
  async #drain(res: Resp): Promise<void> {
    let n = 0;
    try {
      for await (const c of guardBody(res.body, this.#timeouts.body)) {
        n += c.length;
        if (n > 64 << 10) break;
      }
    } catch (e) {
      if (timeoutPhase(e)) throw tagHost(e, res.url.host);
    }
  }

  async #readAll(res: Resp, limit: number, what: string): Promise<Buffer> {
    const len = Number(header(res.headers, 'content-length'));
    const tooLarge = (): SlipwayError => new SlipwayError('ERR_TOO_LARGE', `${what} is larger than the ${limit}-byte limit`, {
      hint: 'raise maxManifestBytes if this image is legitimate',
    });
    if (Number.isFinite(len) && len > limit) {
      discard(res);
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of guardBody(res.body, this.#timeouts.body)) {
        n += c.length;
        if (n > limit) {
          discard(res);
          throw tooLarge();
        }
        chunks.push(c);
      }
    } catch (e) {
      throw this.#bodyError(e, res.url.host, `the connection closed after ${n}${Number.isFinite(len) ? ` of ${len}` : ''} bytes`);
    }
    if (Number.isFinite(len) && n !== len) throw new TruncatedError(`the body ended after ${n} of ${len} bytes`, res.url.host);
    return Buffer.concat(chunks);
  }

  /** An authenticated request to the registry, following redirects; retries a 401 once with fresh auth. */
  async #send(domain: string, repo: string, pathAndQuery: string, extra: Record<string, string>, signal: AbortSignal | undefined, write?: WriteRequest, at?: URL): Promise<Resp> {
    const scope = `repository:${repo}:${write ? 'pull,push' : 'pull'}`;
    const challenges = await this.ping(domain, { signal });
    const creds = challenges.length ? await this.#creds(domain) : undefined;
    const url = at ?? new URL(pathAndQuery, this.baseUrl(domain));
    for (let round = 0; ; round++) {
      const headers: Record<string, string> = { ...extra };
      if (creds) this.#checkRealm(challenges, url, domain);
      const auth = challenges.length ? await this.#auth.authorize(challenges, scope, creds, signal) : undefined;
      if (auth) headers.authorization = auth;
      const res = write ? await this.#write(url, headers, write, signal) : await this.#follow(url, headers, signal);
      if (res.statusCode === 401 && res.url.origin !== url.origin) {
        // A host the registry redirected to (a CDN) asks for credentials: answering its challenge would send the
        // registry's credentials to a token endpoint that host names, and its challenge would replace the registry's.
        discard(res);
        throw new SlipwayError('ERR_REGISTRY_AUTH', `GET ${domain}${pathAndQuery}: ${res.url.host}, where the registry redirected it, answered HTTP 401`, {
          hint: `slipway sends ${domain}'s credentials only to ${domain} and the token endpoint it names, never to a host it redirects to; the registry's redirect (its CDN or storage) is misconfigured or not to be trusted`,
        });
      }
      if (res.statusCode === 401 && round === 0) {
        const fresh = parseWwwAuthenticate(header(res.headers, 'www-authenticate') ?? '');
        await this.#drain(res);
        for (const c of challenges) this.#auth.invalidate(c, scope);
        if (fresh.length) {
          challenges.splice(0, challenges.length, ...fresh);
          if (!creds) {
            const c = await this.#creds(domain);
            if (c) return this.#sendWith(url, extra, fresh, scope, c, signal, write);
          }
        }
        continue;
      }
      return res;
    }
  }

  async #sendWith(url: URL, extra: Record<string, string>, ch: Challenge[], scope: string, creds: Awaited<ReturnType<CredentialResolver>>, signal: AbortSignal | undefined, write?: WriteRequest): Promise<Resp> {
    const headers: Record<string, string> = { ...extra };
    if (creds) this.#checkRealm(ch, url, url.host);
    const auth = await this.#auth.authorize(ch, scope, creds, signal);
    if (auth) headers.authorization = auth;
    return write ? this.#write(url, headers, write, signal) : this.#follow(url, headers, signal);
  }

  /**
   * Credentials go to a Bearer challenge's token endpoint (the realm, a URL the registry names): never in clear text
   * when the registry itself is spoken to over TLS. A plain-HTTP realm is allowed on loopback and for hosts listed as
   * insecure registries (the user chose plain HTTP there).
   */
  #checkRealm(challenges: Challenge[], url: URL, domain: string): void {
    const realm = challenges.find((c) => c.scheme === 'bearer')?.params.realm;
    if (!realm || url.protocol !== 'https:') return;
    let r: URL;
    try {
      r = new URL(realm);
    } catch {
      return; // the authenticator reports a realm that is not a URL
    }
    if (r.protocol === 'https:' || isLoopbackRegistry(r.host) || this.#insecure.has(r.host)) return;
    throw new SlipwayError('ERR_REGISTRY_AUTH', `${domain} (over HTTPS) names the token endpoint ${r.origin}${r.pathname}, which is not HTTPS: slipway does not send ${domain}'s credentials there`, {
      hint: `the registry's auth server is misconfigured (its realm should be https://); if ${r.host} is a trusted plain-HTTP host on your network, list it in SLIPWAY_INSECURE_REGISTRIES (or insecureRegistries in slipway.config.json)`,
    });
  }

  /**
   * One request that changes the registry (push): never redirected (a redirect could carry the upload elsewhere),
   * the body made afresh for each attempt.
   */
  async #write(url: URL, headers: Record<string, string>, w: WriteRequest, signal: AbortSignal | undefined): Promise<Resp> {
    return this.#raw(url, { method: w.method, headers: { ...headers, ...w.headers }, signal, body: w.body?.() });
  }

  /** Follows redirects by hand; Authorization is only sent to the original host. */
  async #follow(start: URL, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Resp> {
    let url = start;
    for (let i = 0; i <= MAX_REDIRECTS; i++) {
      const sameHost = url.host === start.host && url.protocol === start.protocol;
      const h = { ...headers };
      if (!sameHost) delete h.authorization;
      const res = await this.#raw(url, { method: 'GET', headers: h, signal });
      const loc = header(res.headers, 'location');
      if (REDIRECTS.has(res.statusCode) && loc) {
        await this.#drain(res);
        const next = new URL(loc, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new SlipwayError('ERR_REGISTRY', `redirect to unsupported URL ${next.protocol}`);
        debug('redirect %s → %s', url.host, next.host);
        url = next;
        continue;
      }
      return res;
    }
    throw new SlipwayError('ERR_REGISTRY', `more than ${MAX_REDIRECTS} redirects from ${start.href}`, { hint: 'the registry or its CDN is misconfigured' });
  }

  async #raw(url: URL, o: { method: WriteRequest['method'] | 'GET'; headers: Record<string, string>; signal: AbortSignal | undefined; body?: WriteBody | undefined }): Promise<Resp> {
    try {
      const res = await request(url, {
        method: o.method,
        ...(o.body !== undefined ? { body: o.body } : {}),
        headers: { 'user-agent': this.#ua, ...o.headers },
        signal: o.signal,
        dispatcher: this.#dispatcher,
        // Per request too, so the limits hold with a caller's own dispatcher.
        headersTimeout: this.#timeouts.headers,
        bodyTimeout: this.#timeouts.body,
      });
      return { statusCode: res.statusCode, headers: res.headers as Resp['headers'], body: res.body, url };
    } catch (e) {
      throw tagHost(e, url.host);
    }
  }
}

/**
 * A small Docker Engine API client over undici: JSON calls, streamed bodies, and hijacked connections (exec).
 * The API version is negotiated once (`/_ping`'s `Api-Version`, capped at what this client speaks) and every path
 * is prefixed with it, as the Docker CLI does.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Readable } from 'node:stream';
import { buildConnector, Pool } from 'undici';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { describeEndpoint, type EngineEndpoint } from './endpoint.js';

const log = logger('engine');

/** The newest API version this client was written against (Docker 24). */
export const CLIENT_MAX_API = '1.43';
/** The oldest it accepts (Docker 17.09; Podman 4 reports 1.41). */
export const CLIENT_MIN_API = '1.32';

/** Compares two `major.minor` API versions. */
export function compareApi(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** The version to speak: the engine's, capped at {@link CLIENT_MAX_API}. @throws SlipwayError `ERR_RUNTIME_UNAVAILABLE` below {@link CLIENT_MIN_API} */
export function negotiateApi(engineApi: string | undefined, pinned?: string): string {
  if (pinned) return pinned;
  if (!engineApi || !/^\d+\.\d+$/.test(engineApi)) return CLIENT_MIN_API;
  if (compareApi(engineApi, CLIENT_MIN_API) < 0) {
    throw new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the engine speaks API ${engineApi}; slipway needs ${CLIENT_MIN_API} or newer`, {
      hint: 'upgrade Docker (17.09+) or Podman (4+), or use SLIPWAY_RUNTIME=native',
    });
  }
  return compareApi(engineApi, CLIENT_MAX_API) > 0 ? CLIENT_MAX_API : engineApi;
}

/** An engine answer with a status of 400 or more. */
export class EngineHttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'EngineHttpError';
    this.status = status;
  }
}

/** True when `err` (or its cause) is an engine answer with this status. */
export function hasStatus(err: unknown, status: number): boolean {
  for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e instanceof EngineHttpError && e.status === status) return true;
  return false;
}

/** Docker's 409 for a DELETE while another client's removal of the same container runs: the container is going anyway. */
export function removalInProgress(err: unknown): boolean {
  for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof EngineHttpError && e.status === 409 && /removal of container \S+ is already in progress/.test(e.message)) return true;
  }
  return false;
}

// Node's certificate checks (the engine's certificate refused here) and the alerts a TLS server sends (ours refused there).
const SERVER_CERT_REFUSED = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_SIGNATURE_FAILURE|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|CERT_REJECTED|ERR_TLS_CERT_ALTNAME_INVALID|INVALID_CA)$/;
const CLIENT_CERT_REFUSED = /^ERR_SSL_(TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_BAD_CERTIFICATE|TLSV13_ALERT_CERTIFICATE_REQUIRED|TLSV1_ALERT_DECRYPT_ERROR|SSLV3_ALERT_CERTIFICATE_(UNKNOWN|EXPIRED|REVOKED|UNSUPPORTED)|TLSV1_ALERT_ACCESS_DENIED)$/;

/**
 * A TLS failure with a TCP engine as one clear error: which side's certificate was refused and what to check
 * (`DOCKER_CERT_PATH`'s `ca.pem`, `cert.pem`, `key.pem`). `undefined` for anything else.
 */
export function tlsFailure(err: unknown, endpoint: EngineEndpoint): SlipwayError | undefined {
  if (endpoint.kind !== 'tcp') return undefined;
  for (let e = err as { code?: unknown; cause?: unknown; message?: string } | undefined; e; e = e.cause as typeof e) {
    const code = typeof e.code === 'string' ? e.code : '';
    const where = describeEndpoint(endpoint);
    if (SERVER_CERT_REFUSED.test(code)) {
      return new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the engine at ${where} presented a certificate this client does not trust (${code}: ${e.message})`, {
        cause: err, hint: 'DOCKER_CERT_PATH/ca.pem must be the CA that signed the engine\'s certificate, and the certificate must name the host in DOCKER_HOST (check DOCKER_CERT_PATH, DOCKER_TLS_VERIFY)',
      });
    }
    if (CLIENT_CERT_REFUSED.test(code)) {
      return new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the engine at ${where} refused this client's certificate (${code})`, {
        cause: err, hint: 'DOCKER_CERT_PATH/cert.pem and key.pem must be a client certificate signed by the CA the engine trusts (its --tlscacert)',
      });
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
      return new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the engine at ${where} does not speak TLS on that port (${code})`, {
        cause: err, hint: 'unset DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for a plain TCP engine (usually port 2375), or use its TLS port (usually 2376)',
      });
    }
  }
  return undefined;
}

/**
 * Why a TLS engine closed the connection without answering. With TLS 1.3 the server checks the client's certificate
 * after the client's side of the handshake is done, and undici reports its alert only as "other side closed"; one
 * handshake of our own, with a request written, reads the alert (`ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`…).
 */
async function explainClosed(err: unknown, endpoint: EngineEndpoint): Promise<SlipwayError | undefined> {
  const direct = tlsFailure(err, endpoint);
  if (direct || endpoint.kind !== 'tcp' || !endpoint.tls || (err as { code?: string }).code !== 'UND_ERR_SOCKET') return direct;
  const tls = endpoint.tls;
  const alert = await new Promise<Error | undefined>((resolve) => {
    const s = tlsConnect({ host: endpoint.host, port: endpoint.port, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify });
    const done = (e: Error | undefined) => { clearTimeout(timer); s.destroy(); resolve(e); };
    const timer = setTimeout(() => done(undefined), 5000);
    s.once('secureConnect', () => s.write('GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n'));
    s.once('data', () => done(undefined));
    s.once('error', (e) => done(e));
    s.once('end', () => done(undefined));
  });
  return alert ? tlsFailure(Object.assign(alert, { cause: err }), endpoint) : undefined;
}

/** Options of one call. */
export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** For long polls and streams (wait, logs follow, pull): no limit on headers and body. */
  long?: boolean;
  /**
   * A watch that lasts as long as a container (its `/wait` long-poll, its log follow), sent on a pool of its own
   * without a connection cap: each running container holds two, and on the call pool (32 connections) the 16th
   * container's watches took the last ones, so every later call waited for a container to exit. `background`: the
   * watch must not keep Node alive either (a reused container's): its connection stays unreferenced while it waits.
   */
  watch?: 'held' | 'background';
}

/** What the engine says about itself (`/version`). */
export interface EngineInfo {
  /** The negotiated API version every call uses. */
  api: string;
  engineApi: string;
  version: string;
  /** `Docker Engine - Community`, `Podman Engine`… */
  name: string;
  /** Which engine serves the API ({@link engineKindOf}): what its builder can do depends on it. */
  kind: EngineKind;
  os: string;
  arch: string;
}

/** The engine serving the API: Docker (`dockerd`), Podman (`podman system service`), or another (kubedock…). */
export type EngineKind = 'docker' | 'podman' | 'other';

/** The fields of `GET /version` that name the engine. */
export interface EngineVersionBody {
  Platform?: { Name?: string };
  Components?: { Name?: string }[] | null;
}

/**
 * Which engine answers, from its `GET /version`: Podman's compat API names its first component `Podman Engine` (its
 * Platform name is `<os>/<arch>/<distribution>-<version>`); Docker's is `Engine`, and its Platform name `Docker
 * Engine - …` where set (Debian's dockerd leaves it empty).
 */
export function engineKindOf(v: EngineVersionBody): EngineKind {
  const names = (v.Components ?? []).map((c) => c.Name ?? '');
  if (names.includes('Podman Engine')) return 'podman';
  if (names.includes('Engine') || /^Docker\b/.test(v.Platform?.Name ?? '')) return 'docker';
  return 'other';
}

/** One engine connection pool. `close()` is idempotent. */
export class EngineClient {
  readonly endpoint: EngineEndpoint;
  readonly #pool: Pool;
  readonly #watches: { held?: Pool; background?: Pool } = {};
  #info: Promise<EngineInfo> | undefined;

  constructor(endpoint: EngineEndpoint) {
    this.endpoint = endpoint;
    this.#pool = newPool(endpoint, 'calls');
  }

  /** Whether the engine answers `/_ping` within `timeoutMs` (for discovery). */
  async ping(timeoutMs = 2000): Promise<boolean> {
    return (await this.probe(timeoutMs)) === undefined;
  }

  /** Why the engine does not answer `/_ping` within `timeoutMs` (a TLS failure as {@link tlsFailure}), or `undefined` when it does. */
  async probe(timeoutMs = 2000): Promise<Error | undefined> {
    try {
      const r = await this.#pool.request({ path: '/_ping', method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
      const text = await r.body.text();
      return r.statusCode === 200 ? undefined : new Error(`/_ping answered ${r.statusCode} ${text.trim().slice(0, 200)}`);
    } catch (e) {
      log('ping %s: %s', describeEndpoint(this.endpoint), (e as Error).message);
      return (await explainClosed(e, this.endpoint)) ?? (e as Error);
    }
  }

  /** The negotiated version and the engine's identity (asked once). */
  info(): Promise<EngineInfo> {
    this.#info ??= (async () => {
      const ping = await this.#raw('GET', '/_ping', {});
      const engineApi = String(ping.headers['api-version'] ?? '');
      await ping.body.text();
      const api = negotiateApi(engineApi || undefined, process.env.DOCKER_API_VERSION || undefined);
      const v = await this.#json<EngineVersionBody & { Version: string; ApiVersion: string; Os: string; Arch: string }>('GET', `/v${api}/version`, {});
      const info = { api, engineApi: engineApi || v.ApiVersion, version: v.Version, name: v.Components?.[0]?.Name ?? 'Engine', kind: engineKindOf(v), os: v.Os, arch: v.Arch };
      log('engine %s: %s %s, API %s (engine %s)', describeEndpoint(this.endpoint), info.name, info.version, api, info.engineApi);
      return info;
    })();
    this.#info.catch(() => { this.#info = undefined; });
    return this.#info;
  }

  /** A JSON call (`undefined` for an empty body). @throws SlipwayError `ERR_RUNTIME` (cause: {@link EngineHttpError}) */
  async call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const { api } = await this.info();
    return this.#json<T>(method, `/v${api}${path}`, opts);
  }

  /** A call whose body is read as a stream (logs, archives, pull progress). */
  async stream(method: string, path: string, opts: CallOptions & { rawBody?: Readable | Buffer } = {}): Promise<{ headers: Record<string, string | string[] | undefined>; body: Readable }> {
    const { api } = await this.info();
    const r = await this.#raw(method, `/v${api}${path}`, opts);
    if (r.statusCode >= 400) throw await httpError(r, method, path);
    return { headers: r.headers, body: r.body };
  }

  /**
   * Starts an exec on a hijacked connection (`Upgrade: tcp`): the socket carries stdin one way and the multiplexed
   * output the other. Returns the socket and any output bytes read with the response head. `upgrade` names another
   * protocol (`h2c` for a BuildKit session), `headers` are sent with the request.
   */
  async hijack(path: string, body: unknown | undefined, opts: { upgrade?: string; headers?: Readonly<Record<string, string | readonly string[]>> } = {}): Promise<{ socket: Socket; head: Buffer }> {
    const { api } = await this.info();
    const e = this.endpoint;
    const socket: Socket = e.kind === 'unix'
      ? netConnect({ path: e.socketPath, allowHalfOpen: true })
      : e.tls
        ? tlsConnect({ host: e.host, port: e.port, ca: e.tls.ca, cert: e.tls.cert, key: e.tls.key, rejectUnauthorized: e.tls.verify })
        : netConnect({ host: e.host, port: e.port, allowHalfOpen: true });
    // No body at all when there is none: bytes the engine has not read before it hijacks would reach whoever reads
    // the connection next (a session's HTTP/2 client took a `{}` for a broken frame).
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    // A header given as a list is sent once per value (the session's X-Docker-Expose-Session-Grpc-Method).
    const extra = Object.entries(opts.headers ?? {}).flatMap(([k, v]) => (typeof v === 'string' ? [v] : v).map((one) => `${k}: ${one}\r\n`)).join('');
    socket.write(`POST /v${api}${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: ${opts.upgrade ?? 'tcp'}\r\n${extra}Content-Length: ${payload.length}\r\n\r\n`);
    socket.write(payload);
    return new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const fail = (err: Error) => { cleanup(); socket.destroy(); reject(tlsFailure(err, e) ?? new SlipwayError('ERR_RUNTIME', `engine POST ${path}: ${err.message}`, { cause: err })); };
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        cleanup();
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        const rest = buf.subarray(end + 4);
        if (status !== 101 && status !== 200) {
          socket.destroy();
          reject(new SlipwayError('ERR_RUNTIME', `engine POST ${path}: ${status} ${rest.toString().trim().slice(0, 300)}`, { cause: new EngineHttpError(status, rest.toString()) }));
          return;
        }
        socket.pause();
        resolve({ socket, head: Buffer.from(rest) });
      };
      const cleanup = () => { socket.off('data', onData); socket.off('error', fail); socket.off('end', onEnd); };
      const onEnd = () => fail(new Error('the engine closed the connection before answering'));
      socket.on('data', onData);
      socket.on('error', fail);
      socket.on('end', onEnd);
    });
  }

  /** Closes every connection; idempotent. */
  async close(): Promise<void> {
    for (const pool of [this.#pool, this.#watches.held, this.#watches.background]) {
      if (pool && !pool.closed && !pool.destroyed) await pool.destroy().catch(() => {});
    }
  }

  async #json<T>(method: string, path: string, opts: CallOptions): Promise<T> {
    const r = await this.#raw(method, path, opts);
    if (r.statusCode >= 400) throw await httpError(r, method, path);
    const text = await r.body.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async #raw(method: string, path: string, opts: CallOptions & { rawBody?: Readable | Buffer }) {
    const q = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    const full = q.length ? `${path}?${q.join('&')}` : path;
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | Buffer | Readable | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] = 'application/json'; }
    const pool = opts.watch ? (this.#watches[opts.watch] ??= newPool(this.endpoint, opts.watch)) : this.#pool;
    try {
      return await pool.request({
        path: full, method: method as 'GET', headers, body, signal: opts.signal,
        headersTimeout: opts.long ? 0 : 120_000, bodyTimeout: opts.long ? 0 : 120_000,
      });
    } catch (cause) {
      if (opts.signal?.aborted) throw cause;
      throw (await explainClosed(cause, this.endpoint)) ?? new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the engine at ${describeEndpoint(this.endpoint)} did not answer ${method} ${path}: ${(cause as Error).message}`, {
        cause, hint: `is the engine running? (${this.endpoint.source}); SLIPWAY_RUNTIME=native runs without one`,
      });
    }
  }
}

/**
 * A connection pool of an endpoint: `calls` (at most 32 connections), or one for container watches without a cap
 * (see {@link CallOptions.watch}). undici references a socket while a request on it is pending, so a long poll keeps
 * Node alive; a `background` pool's connector makes `ref()` a no-op on its sockets, so they never do.
 */
function newPool(endpoint: EngineEndpoint, kind: 'calls' | 'held' | 'background'): Pool {
  const tls = endpoint.kind === 'tcp' ? endpoint.tls : undefined;
  const tlsOptions = tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify } : {};
  const origin = endpoint.kind === 'unix' ? 'http://localhost' : `${tls ? 'https' : 'http'}://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  const socketPath = endpoint.kind === 'unix' ? endpoint.socketPath : undefined;
  const connections = kind === 'calls' ? 32 : null;
  if (kind !== 'background') return new Pool(origin, { socketPath, connections, ...(tls ? { connect: tlsOptions } : {}) });
  const base = buildConnector({ socketPath, ...tlsOptions });
  return new Pool(origin, {
    connections,
    connect: (opts, callback) => base(opts, (err, socket) => {
      if (socket) {
        socket.unref();
        socket.ref = () => socket;
      }
      (callback as (e: Error | null, s: typeof socket) => void)(err, socket);
    }),
  });
}

async function httpError(r: { statusCode: number; body: { text(): Promise<string> } }, method: string, path: string): Promise<SlipwayError> {
  const text = await r.body.text().catch(() => '');
  let message = text.trim();
  try { message = (JSON.parse(text) as { message?: string }).message ?? message; } catch { /* not JSON */ }
  return new SlipwayError('ERR_RUNTIME', `engine ${method} ${path.replace(/^\/v\d+\.\d+/, '')}: ${r.statusCode} ${message.slice(0, 500)}`, {
    cause: new EngineHttpError(r.statusCode, message),
  });
}

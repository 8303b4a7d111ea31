/**
 * A small Docker Engine API client over undici: JSON calls, streamed bodies, and hijacked connections (exec).
 * The API version is negotiated once (`/_ping`'s `Api-Version`, capped at what this client speaks) and every path
 * is prefixed with it, as the Docker CLI does.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
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

/** Options of one call. */
export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** For long polls and streams (wait, logs follow, pull): no limit on headers and body. */
  long?: boolean;
}

/** What the engine says about itself (`/version`). */
export interface EngineInfo {
  /** The negotiated API version every call uses. */
  api: string;
  engineApi: string;
  version: string;
  /** `Docker Engine - Community`, `Podman Engine`… */
  name: string;
  os: string;
  arch: string;
}

/** One engine connection pool. `close()` is idempotent. */
export class EngineClient {
  readonly endpoint: EngineEndpoint;
  readonly #pool: Pool;
  #info: Promise<EngineInfo> | undefined;

  constructor(endpoint: EngineEndpoint) {
    this.endpoint = endpoint;
    if (endpoint.kind === 'unix') {
      this.#pool = new Pool('http://localhost', { socketPath: endpoint.socketPath, connections: 32 });
    } else {
      const tls = endpoint.tls;
      this.#pool = new Pool(`${tls ? 'https' : 'http'}://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`, {
        connections: 32,
        ...(tls ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify } } : {}),
      });
    }
  }

  /** Whether the engine answers `/_ping` within `timeoutMs` (for discovery). */
  async ping(timeoutMs = 2000): Promise<boolean> {
    try {
      const r = await this.#pool.request({ path: '/_ping', method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
      await r.body.text();
      return r.statusCode === 200;
    } catch (e) {
      log('ping %s: %s', describeEndpoint(this.endpoint), (e as Error).message);
      return false;
    }
  }

  /** The negotiated version and the engine's identity (asked once). */
  info(): Promise<EngineInfo> {
    this.#info ??= (async () => {
      const ping = await this.#raw('GET', '/_ping', {});
      const engineApi = String(ping.headers['api-version'] ?? '');
      await ping.body.text();
      const api = negotiateApi(engineApi || undefined, process.env.DOCKER_API_VERSION || undefined);
      const v = await this.#json<{ Version: string; ApiVersion: string; Os: string; Arch: string; Components?: { Name: string }[] }>('GET', `/v${api}/version`, {});
      const info = { api, engineApi: engineApi || v.ApiVersion, version: v.Version, name: v.Components?.[0]?.Name ?? 'Engine', os: v.Os, arch: v.Arch };
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
   * output the other. Returns the socket and any output bytes read with the response head.
   */
  async hijack(path: string, body: unknown): Promise<{ socket: Socket; head: Buffer }> {
    const { api } = await this.info();
    const e = this.endpoint;
    const socket: Socket = e.kind === 'unix'
      ? netConnect({ path: e.socketPath, allowHalfOpen: true })
      : e.tls
        ? tlsConnect({ host: e.host, port: e.port, ca: e.tls.ca, cert: e.tls.cert, key: e.tls.key, rejectUnauthorized: e.tls.verify })
        : netConnect({ host: e.host, port: e.port, allowHalfOpen: true });
    const payload = Buffer.from(JSON.stringify(body));
    socket.write(`POST /v${api}${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${payload.length}\r\n\r\n`);
    socket.write(payload);
    return new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const fail = (err: Error) => { cleanup(); socket.destroy(); reject(new SlipwayError('ERR_RUNTIME', `engine exec: ${err.message}`, { cause: err })); };
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
    if (!this.#pool.closed && !this.#pool.destroyed) await this.#pool.destroy().catch(() => {});
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
    try {
      return await this.#pool.request({
        path: full, method: method as 'GET', headers, body, signal: opts.signal,
        headersTimeout: opts.long ? 0 : 120_000, bodyTimeout: opts.long ? 0 : 120_000,
      });
    } catch (cause) {
      if (opts.signal?.aborted) throw cause;
      throw new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the engine at ${describeEndpoint(this.endpoint)} did not answer ${method} ${path}: ${(cause as Error).message}`, {
        cause, hint: `is the engine running? (${this.endpoint.source}); SLIPWAY_RUNTIME=native runs without one`,
      });
    }
  }
}

async function httpError(r: { statusCode: number; body: { text(): Promise<string> } }, method: string, path: string): Promise<SlipwayError> {
  const text = await r.body.text().catch(() => '');
  let message = text.trim();
  try { message = (JSON.parse(text) as { message?: string }).message ?? message; } catch { /* not JSON */ }
  return new SlipwayError('ERR_RUNTIME', `engine ${method} ${path.replace(/^\/v\d+\.\d+/, '')}: ${r.statusCode} ${message.slice(0, 500)}`, {
    cause: new EngineHttpError(r.statusCode, message),
  });
}

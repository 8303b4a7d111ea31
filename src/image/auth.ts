/**
 * Registry authentication: `WWW-Authenticate` challenges, Bearer tokens (distribution token spec,
 * anonymous or with credentials, OAuth2 refresh tokens) cached per scope until expiry, and Basic.
 */
import { request, type Dispatcher } from 'undici';
import { logger } from '../internal/debug.js';
import { SlipwayError } from '../errors.js';
import type { RegistryCredentials } from './credentials.js';
import { guardBody, registryTimeoutError, resolveTimeouts, timeoutPhase, type RegistryTimeouts } from './timeouts.js';

const debug = logger('image:auth');

/** One parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  /** Lowercased scheme, e.g. `bearer` or `basic`. */
  scheme: string;
  /** Lowercased parameter names → values (`realm`, `service`, `scope`). */
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header value (one or more challenges, quoted or token values).
 * @example parseWwwAuthenticate('Bearer realm="https://a/token",service="reg"')
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = (): void => {
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
  };
  while (i < s.length) {
    skipWs();
    const m = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(s.slice(i));
    if (!m) break;
    const scheme = m[0].toLowerCase();
    i += m[0].length;
    const params: Record<string, string> = {};
    for (;;) {
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (s[i] === ',') {
        i++;
        while (i < s.length && /\s/.test(s[i]!)) i++;
      }
      const pm = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(s.slice(i));
      if (!pm) break;
      i += pm[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const vm = /^[^,\s]*/.exec(s.slice(i))!;
        value = vm[0];
        i += vm[0].length;
      }
      params[pm[1]!.toLowerCase()] = value;
    }
    out.push({ scheme, params });
  }
  return out;
}

interface CachedToken { token: string; expiresAt: number }

/** Options for {@link Authenticator}. */
export interface AuthenticatorOptions {
  dispatcher?: Dispatcher | undefined;
  userAgent: string;
  /** Per-phase limits for token requests. @defaultValue the registry defaults ({@link resolveTimeouts}) */
  timeouts?: RegistryTimeouts;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** Produces `Authorization` header values for challenges; caches Bearer tokens per realm+service+scope. */
export class Authenticator {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #opts: AuthenticatorOptions;

  constructor(opts: AuthenticatorOptions) {
    this.#opts = opts;
  }

  /** Drops a cached token (after a 401 with it). */
  invalidate(challenge: Challenge, scope: string): void {
    this.#tokens.delete(tokenKey(challenge, scope));
  }

  /**
   * Returns the `Authorization` value for `challenges`, or undefined when none applies
   * (e.g. Basic without credentials).
   * @throws {@link SlipwayError} `ERR_REGISTRY_AUTH` when the token endpoint refuses.
   */
  async authorize(challenges: Challenge[], scope: string, creds: RegistryCredentials | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) return `Bearer ${await this.#token(bearer, scope, creds, signal)}`;
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic && creds?.username !== undefined) return basicHeader(creds);
    return undefined;
  }

  async #token(ch: Challenge, scope: string, creds: RegistryCredentials | undefined, signal?: AbortSignal): Promise<string> {
    const now = (this.#opts.now ?? Date.now)();
    const key = tokenKey(ch, scope);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > now) return cached.token;
    const realm = ch.params.realm;
    if (!realm) throw new SlipwayError('ERR_REGISTRY_AUTH', 'Bearer challenge without a realm', { hint: 'the registry is misconfigured' });
    let url: URL;
    try {
      url = new URL(realm);
    } catch (e) {
      throw new SlipwayError('ERR_REGISTRY_AUTH', `Bearer realm ${JSON.stringify(realm)} is not a URL`, { cause: e });
    }
    const service = ch.params.service;
    const scopes = scope ? [scope] : [];
    let res: Dispatcher.ResponseData;
    const timeouts = this.#opts.timeouts ?? resolveTimeouts(undefined, {});
    const limits = { headersTimeout: timeouts.headers, bodyTimeout: timeouts.body };
    const headers: Record<string, string> = { 'user-agent': this.#opts.userAgent };
    try {
      if (creds?.identityToken) {
        // OAuth2 refresh-token grant (docker_client.go getBearerTokenOAuth2).
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'slipway' });
        if (service) form.set('service', service);
        for (const s of scopes) form.append('scope', s);
        res = await request(url, {
          method: 'POST', body: form.toString(), signal,
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
          dispatcher: this.#opts.dispatcher, ...limits,
        });
      } else {
        if (service) url.searchParams.set('service', service);
        for (const s of scopes) url.searchParams.append('scope', s);
        if (creds?.username !== undefined) {
          headers.authorization = basicHeader(creds);
          url.searchParams.set('account', creds.username);
        }
        res = await request(url, { method: 'GET', headers, signal, dispatcher: this.#opts.dispatcher, ...limits });
      }
    } catch (e) {
      const phase = timeoutPhase(e);
      if (phase) throw registryTimeoutError(phase, url.host, `token endpoint ${url.origin}${url.pathname}`, timeouts, e);
      throw new SlipwayError('ERR_REGISTRY_UNREACHABLE', `token endpoint ${url.origin}${url.pathname} unreachable: ${(e as Error).message}`, {
        hint: 'check network access to the registry\'s auth server', cause: e,
      });
    }
    let text: string;
    try {
      text = await readLimited(guardBody(res.body, timeouts.body), 1 << 20);
    } catch (e) {
      const phase = timeoutPhase(e);
      if (phase) throw registryTimeoutError(phase, url.host, `token endpoint ${url.origin}${url.pathname}`, timeouts, e);
      throw new SlipwayError('ERR_REGISTRY_UNREACHABLE', `token endpoint ${url.origin}${url.pathname}: the answer was cut short: ${(e as Error).message}`, {
        hint: 'retry; check the network to the registry\'s auth server', cause: e,
      });
    }
    if (res.statusCode !== 200) {
      throw new SlipwayError('ERR_REGISTRY_AUTH', `token endpoint ${url.origin}${url.pathname} answered ${res.statusCode} for scope "${scope}"${creds ? ' with credentials' : ' anonymously'}: ${text.slice(0, 200)}`, {
        hint: creds ? 'check the credentials in your Docker config / auth.json' : 'log in (docker login / podman login) if the repository is private',
      });
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (e) {
      throw new SlipwayError('ERR_REGISTRY_AUTH', 'token endpoint returned invalid JSON', { cause: e });
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new SlipwayError('ERR_REGISTRY_AUTH', 'token endpoint returned no token', { hint: 'the registry is misconfigured' });
    // Default and minimum lifetime 60 s (token spec); refresh 10 s early.
    const expiresIn = Math.max(60, Number(body.expires_in) || 60);
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const base = Number.isFinite(issued) && Math.abs(issued - now) < 3600_000 ? issued : now;
    this.#tokens.set(key, { token, expiresAt: base + expiresIn * 1000 - 10_000 });
    debug('token for %s scope=%s valid %ds', url.host, scope, expiresIn);
    return token;
  }
}

function tokenKey(ch: Challenge, scope: string): string {
  return `${ch.params.realm ?? ''}\n${ch.params.service ?? ''}\n${scope}`;
}

/** `Basic base64(user:pass)`. */
export function basicHeader(creds: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
}

/** Reads a body as text, at most `limit` bytes (the rest is discarded). */
export async function readLimited(body: AsyncIterable<unknown>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = c as Buffer;
    if (n < limit) chunks.push(b.subarray(0, limit - n));
    n += b.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

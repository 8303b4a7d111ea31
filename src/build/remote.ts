/**
 * `ADD <url>`: downloads an http(s) source with Docker's semantics — the file is named by the URL's last path
 * segment, keeps the server's `Last-Modified` as its mtime, is never extracted, and `--checksum=sha256:…` is checked.
 * Bounded in size and time (a build must not hang on, or fill memory from, a server). Git URLs are refused.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { fetch } from 'undici';
import { SlipwayError } from '../errors.js';

/**
 * Limits of one download. Module state (not a build option) so tests can lower them.
 * @internal
 */
export const REMOTE_LIMITS = {
  /** Largest body accepted; the file is held in memory until its layer is written. */
  maxBytes: 512 * 1024 * 1024,
  /** Whole download, from the request to the last byte. */
  timeoutMs: 10 * 60 * 1000,
};

/** A downloaded `ADD` source. */
export interface RemoteFile {
  /** The file name the URL gives (its last path segment, `__unnamed__` when it has none, as BuildKit). */
  name: string;
  content: Buffer;
  /** `Last-Modified`, when the server sent a valid one. */
  mtime?: Date;
}

/** Whether an ADD source is a URL (rather than a path in the context). */
export function isUrl(src: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(src) || /^git@[^:]+:/.test(src);
}

/** BuildKit's notion of a git source: `git://`, `git@host:`, `github.com/…`, or an http(s) URL ending in `.git`. */
function isGitUrl(src: string): boolean {
  return /^git:\/\//i.test(src) || /^git@[^:]+:/.test(src) || /^github\.com\//i.test(src) || /^https?:\/\/[^#]+\.git(#.*)?$/i.test(src);
}

function addError(line: number, url: string, message: string, hint: string, cause?: unknown): SlipwayError {
  return new SlipwayError('ERR_BUILD', `Dockerfile line ${line} (ADD ${url}): ${message}`, { hint, cause });
}

/** Parses `--checksum=<algo>:<hex>` (sha256, sha384, sha512). */
export function parseChecksum(value: string, line: number): { algorithm: string; hex: string } {
  const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/i.exec(value.trim());
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  if (!m || m[2]!.length !== lengths[m[1]!.toLowerCase()]) {
    throw new SlipwayError('ERR_BUILD', `Dockerfile line ${line} (ADD): invalid --checksum=${value}`, { hint: 'use --checksum=sha256:<64 hex digits>' });
  }
  return { algorithm: m[1]!.toLowerCase(), hex: m[2]!.toLowerCase() };
}

/**
 * Downloads an `ADD` URL.
 * @throws SlipwayError `ERR_UNSUPPORTED` for a git URL or a scheme other than http(s); `ERR_BUILD` for an HTTP error
 *   status, a body over the size limit, a timeout, a connection failure or a checksum mismatch
 */
export async function fetchRemote(url: string, opts: { line: number; checksum?: string; signal?: AbortSignal }): Promise<RemoteFile> {
  if (isGitUrl(url)) {
    throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${opts.line} (ADD ${url}): ADD of a git repository is not supported`, {
      hint: 'clone the repository into the build context before the build and COPY it',
    });
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw addError(opts.line, url, 'is not a valid URL', 'check the URL', e);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${opts.line} (ADD ${url}): only http and https URLs can be added`, { hint: 'download the file into the build context and COPY it' });
  }
  const checksum = opts.checksum !== undefined ? parseChecksum(opts.checksum, opts.line) : undefined;
  const { maxBytes, timeoutMs } = REMOTE_LIMITS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const chunks: Buffer[] = [];
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(parsed, { signal, redirect: 'follow', headers: { 'user-agent': 'slipway-build' } });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw addError(opts.line, url, `the server answered ${res.status} ${res.statusText}`.trim(), 'check the URL; the file must be downloadable without credentials');
    }
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (length > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw addError(opts.line, url, `the file is ${length} bytes, over the ${maxBytes}-byte limit of ADD <url>`, 'download it into the build context (or RUN curl in a step) instead');
    }
    let total = 0;
    if (res.body) {
      for await (const c of res.body) {
        total += (c as Uint8Array).length;
        if (total > maxBytes) {
          throw addError(opts.line, url, `the body exceeds the ${maxBytes}-byte limit of ADD <url>`, 'download it into the build context (or RUN curl in a step) instead');
        }
        chunks.push(Buffer.from(c as Uint8Array));
      }
    }
  } catch (e) {
    if (SlipwayError.is(e)) throw e;
    if (opts.signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'the build was aborted', { cause: opts.signal.reason });
    if (timeout.aborted) throw addError(opts.line, url, `the download did not finish within ${timeoutMs / 1000} s`, 'check that the server answers, or download the file into the build context', e);
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw addError(opts.line, url, `the download failed: ${cause ?? (e as Error).message}`, 'check the URL and that this machine reaches the server (a RUN step has the network, ADD uses this process\'s)', e);
  }
  const content = Buffer.concat(chunks);
  if (checksum) {
    const got = createHash(checksum.algorithm).update(content).digest('hex');
    if (got !== checksum.hex) {
      throw addError(opts.line, url, `checksum mismatch: expected ${checksum.algorithm}:${checksum.hex}, got ${checksum.algorithm}:${got}`, 'the file changed on the server or the --checksum is wrong');
    }
  }
  const lm = res.headers.get('last-modified');
  const mtime = lm ? new Date(lm) : undefined;
  const base = posix.basename(decodeURIComponent(parsed.pathname));
  return { name: base && base !== '/' ? base : '__unnamed__', content, ...(mtime && !Number.isNaN(mtime.getTime()) ? { mtime } : {}) };
}

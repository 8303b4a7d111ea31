/**
 * Image references parsed exactly as Docker does (distribution/reference `ParseNormalizedNamed`
 * followed by `TagNameOnly`): `redis` → `docker.io/library/redis:latest`.
 */
import { SlipwayError } from '../errors.js';

/** A parsed, normalized image reference. */
export interface ImageReference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/redis`. */
  readonly path: string;
  /** `domain/path`. */
  readonly name: string;
  /** The tag, when given (or `latest` when neither tag nor digest was given). */
  readonly tag: string | undefined;
  /** The digest (`algorithm:hex`), when given. A digest wins over a tag when pulling. */
  readonly digest: string | undefined;
  /** The full normalized form: `name[:tag][@digest]`. */
  readonly string: string;
}

/** Docker Hub's canonical domain. */
export const DOCKER_HUB_DOMAIN = 'docker.io';
const LEGACY_HUB_DOMAIN = 'index.docker.io';
const NAME_TOTAL_LENGTH_MAX = 255;

// Grammar from distribution/reference regexp.go.
const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;
const REFERENCE_RE = new RegExp(`^(${namePat})(?::(${tag}))?(?:@(${digest}))?$`);
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const ANCHORED_IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(ref: string, reason: string): SlipwayError {
  return new SlipwayError('ERR_INVALID_REFERENCE', `invalid image reference ${JSON.stringify(ref)}: ${reason}`, {
    hint: 'use [registry[:port]/]repository[:tag][@sha256:<64 hex>], with a lowercase repository, e.g. "redis:7" or "localhost:5000/team/app:1.0"',
  });
}

/**
 * Splits a name into domain and remainder as Docker does: the first element is a domain only when it
 * contains `.` or `:`, is `localhost`, or has an uppercase letter.
 */
function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DOCKER_HUB_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_HUB_DOMAIN) domain = DOCKER_HUB_DOMAIN;
  if (domain === DOCKER_HUB_DOMAIN && !remainder.includes('/')) remainder = `library/${remainder}`;
  return [domain, remainder];
}

/**
 * Parses and normalizes an image reference the way `docker pull` does.
 *
 * @param ref - e.g. `redis`, `redis:7`, `localhost:5000/team/app:1.0`, `alpine@sha256:…`, `redis:7@sha256:…`.
 * @param options.defaultTag - when true (default), a reference without tag or digest gets `latest`.
 * @returns the normalized reference; `string` is `docker.io/library/redis:latest` for `redis`.
 * @throws {@link SlipwayError} `ERR_INVALID_REFERENCE` naming the reason (uppercase repository, bad tag,
 *   bad digest, empty, too long, 64-hex identifier...).
 * @example
 * parseReference('redis').string // 'docker.io/library/redis:latest'
 */
export function parseReference(ref: string, options: { defaultTag?: boolean } = {}): ImageReference {
  if (typeof ref !== 'string') throw invalid(String(ref), 'the reference must be a string');
  if (ref === '') throw invalid(ref, 'the reference is empty');
  if (ANCHORED_IDENTIFIER_RE.test(ref)) {
    throw invalid(ref, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  // Split off the digest and tag before looking at the name, as ParseNormalizedNamed does via
  // splitDockerDomain on the whole string (the domain split only looks at the first '/').
  const [domain, remainder] = splitDockerDomain(ref);
  const remoteOnly = remainder.replace(/[:@].*$/, '');
  if (remoteOnly.toLowerCase() !== remoteOnly) {
    throw invalid(ref, `repository name "${remoteOnly}" must be lowercase`);
  }
  const full = `${domain}/${remainder}`;
  const m = REFERENCE_RE.exec(full);
  if (!m) throw invalid(ref, describeFormatError(domain, remainder));
  const name = m[1]!;
  const tagPart = m[2];
  const digestPart = m[3];
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(ref, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  if (digestPart !== undefined) validateDigest(ref, digestPart);
  const path = name.slice(domain.length + 1);
  const finalTag = tagPart ?? (digestPart === undefined && options.defaultTag !== false ? 'latest' : undefined);
  return makeReference(domain, path, finalTag, digestPart);
}

/** Builds a reference from parts (no validation beyond what the parts already had). */
export function makeReference(domain: string, path: string, tag?: string, digest?: string): ImageReference {
  const name = `${domain}/${path}`;
  let s = name;
  if (tag !== undefined) s += `:${tag}`;
  if (digest !== undefined) s += `@${digest}`;
  return { domain, path, name, tag, digest, string: s };
}

function validateDigest(ref: string, d: string): void {
  const idx = d.indexOf(':');
  const alg = d.slice(0, idx);
  const hex = d.slice(idx + 1);
  const want = DIGEST_HEX_LENGTH[alg];
  if (want === undefined) throw invalid(ref, `unsupported digest algorithm "${alg}"`);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) {
    throw invalid(ref, `digest "${d}" must be ${alg}: followed by ${want} lowercase hex characters`);
  }
}

function describeFormatError(domain: string, remainder: string): string {
  if (!DOMAIN_RE.test(domain)) return `registry "${domain}" is not a valid host[:port]`;
  const at = remainder.indexOf('@');
  const beforeDigest = at === -1 ? remainder : remainder.slice(0, at);
  if (at !== -1 && !new RegExp(`^${digest}$`).test(remainder.slice(at + 1))) {
    return `digest "${remainder.slice(at + 1)}" is not of the form algorithm:hex (at least 32 hex characters)`;
  }
  const colon = beforeDigest.lastIndexOf(':');
  const repo = colon === -1 ? beforeDigest : beforeDigest.slice(0, colon);
  if (repo === '') return 'the repository name is empty';
  if (!new RegExp(`^${remoteName}$`).test(repo)) {
    return `repository "${repo}" may only contain lowercase letters, digits and separators (".", "_", "__", "-") between components split by "/"`;
  }
  if (colon !== -1 && !new RegExp(`^${tag}$`).test(beforeDigest.slice(colon + 1))) {
    return `tag "${beforeDigest.slice(colon + 1)}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
  }
  return 'invalid reference format';
}

/** The short form Docker prints: `redis:latest` for `docker.io/library/redis:latest`. */
export function familiarString(ref: ImageReference): string {
  let p = ref.name;
  if (ref.domain === DOCKER_HUB_DOMAIN) {
    p = ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice(8) : ref.path;
  }
  return ref.string.slice(ref.name.length).length ? p + ref.string.slice(ref.name.length) : p;
}

/**
 * OCI and Docker schema 2 manifests, indexes / manifest lists and image configs: parsing, validation and
 * chain ids.
 */
import { createHash } from 'node:crypto';
import { SlipwayError } from '../errors.js';
import type { Platform, PlatformEntry } from './platform.js';

/** Media types slipway understands. */
export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerList]);
const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** A content descriptor. */
export interface Descriptor extends PlatformEntry {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
}

/** A single-platform image manifest. */
export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** A multi-platform index / manifest list. */
export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

/** The parts of an image config slipway uses (Docker names). */
export interface ContainerConfig {
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  User?: string;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  Volumes?: Record<string, object> | null;
}

/** An image configuration blob. */
export interface ImageConfigFile extends Platform {
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  created?: string;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function invalid(what: string, reason: string, cause?: unknown): SlipwayError {
  return new SlipwayError('ERR_MANIFEST_INVALID', `${what}: ${reason}`, { hint: 'the registry serves something that is not a valid container image', cause });
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  const x = d as Descriptor;
  if (!x || typeof x !== 'object') throw invalid(what, 'descriptor is not an object');
  if (typeof x.digest !== 'string' || !DIGEST_RE.test(x.digest)) {
    throw invalid(what, `unsupported or malformed digest ${JSON.stringify(x.digest)} (only sha256 is supported)`);
  }
  if (typeof x.size !== 'number' || !Number.isSafeInteger(x.size) || x.size < 0) throw invalid(what, `bad size ${JSON.stringify(x.size)}`);
  if (typeof x.mediaType !== 'string') throw invalid(what, 'descriptor without mediaType');
  return x;
}

/**
 * Parses a manifest or index body. The body's `mediaType` must agree with the Content-Type when both are
 * specific (distribution-spec).
 * @throws {@link SlipwayError} `ERR_MANIFEST_INVALID` for schema 1, artifacts, bad descriptors or unknown layer types.
 */
export function parseManifest(body: Buffer, contentType: string, what = 'manifest'): ImageManifest | ImageIndex {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw invalid(what, 'not valid JSON', e);
  }
  if (!j || typeof j !== 'object') throw invalid(what, 'not a JSON object');
  if (j.schemaVersion === 1 || /vnd\.docker\.distribution\.manifest\.v1\+/.test(contentType)) {
    throw invalid(what, 'Docker schema 1 manifests are not supported (deprecated since 2017)');
  }
  if (j.schemaVersion !== 2) throw invalid(what, `unsupported schemaVersion ${JSON.stringify(j.schemaVersion)}`);
  const bodyType = typeof j.mediaType === 'string' ? j.mediaType : undefined;
  const known = (t: string): boolean => INDEX_TYPES.has(t) || MANIFEST_TYPES.has(t);
  if (bodyType && known(contentType) && bodyType !== contentType) {
    throw invalid(what, `mediaType ${bodyType} in the body differs from Content-Type ${contentType}`);
  }
  const mediaType = bodyType ?? (known(contentType) ? contentType : Array.isArray(j.manifests) ? MediaType.OciIndex : MediaType.OciManifest);
  if (INDEX_TYPES.has(mediaType) || (Array.isArray(j.manifests) && !j.layers)) {
    if (!Array.isArray(j.manifests)) throw invalid(what, 'index without manifests');
    return { kind: 'index', mediaType, manifests: j.manifests.map((d, i) => checkDescriptor(d, `${what} entry ${i}`)) };
  }
  if (!MANIFEST_TYPES.has(mediaType)) throw invalid(what, `unsupported mediaType ${mediaType}`);
  const config = checkDescriptor(j.config, `${what} config`);
  if (config.mediaType !== MediaType.OciConfig && config.mediaType !== MediaType.DockerConfig) {
    throw invalid(what, `config mediaType ${config.mediaType} is not a container image config (an OCI artifact?)`);
  }
  if (!Array.isArray(j.layers)) throw invalid(what, 'manifest without layers');
  const layers = j.layers.map((d, i) => {
    const l = checkDescriptor(d, `${what} layer ${i}`);
    if (!LAYER_TYPES.has(l.mediaType)) throw invalid(what, `layer ${i} has unsupported mediaType ${l.mediaType}`);
    return l;
  });
  return { kind: 'manifest', mediaType, config, layers };
}

/**
 * Parses an image config and checks `rootfs.diff_ids` against the manifest's layer count.
 * @throws {@link SlipwayError} `ERR_MANIFEST_INVALID`.
 */
export function parseImageConfig(body: Buffer, layerCount: number, what = 'image config'): ImageConfigFile {
  let j: ImageConfigFile;
  try {
    j = JSON.parse(body.toString('utf8')) as ImageConfigFile;
  } catch (e) {
    throw invalid(what, 'not valid JSON', e);
  }
  if (!j?.rootfs || !Array.isArray(j.rootfs.diff_ids)) throw invalid(what, 'no rootfs.diff_ids');
  if (j.rootfs.diff_ids.length !== layerCount) {
    throw invalid(what, `${j.rootfs.diff_ids.length} diff_ids for ${layerCount} layers`);
  }
  for (const d of j.rootfs.diff_ids) if (!DIGEST_RE.test(d)) throw invalid(what, `bad diff_id ${JSON.stringify(d)}`);
  checkContainerConfig(j.config, what);
  return j;
}

const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The fields slipway reads from an image's `config`, in the types Docker's Go structs give them (null allowed where
 * Docker writes null). A hostile image's `"Cmd": 5` made start() fail with an untyped `TypeError: … is not iterable`,
 * and `"Entrypoint": "sh"` ran `["s", "h"]`.
 */
function checkContainerConfig(c: unknown, what: string): void {
  if (c === undefined || c === null) return;
  if (!isObject(c)) throw invalid(what, 'config is not an object');
  const bad = (field: string, expected: string) => invalid(what, `config.${field} is ${JSON.stringify(c[field])?.slice(0, 80)}, expected ${expected}`);
  for (const f of ['Env', 'Entrypoint', 'Cmd'] as const) if (c[f] != null && !isStrings(c[f])) throw bad(f, 'an array of strings');
  for (const f of ['User', 'WorkingDir', 'StopSignal'] as const) if (c[f] != null && typeof c[f] !== 'string') throw bad(f, 'a string');
  if (c.Labels != null && !(isObject(c.Labels) && Object.values(c.Labels).every((v) => typeof v === 'string'))) throw bad('Labels', 'an object of strings');
  for (const f of ['ExposedPorts', 'Volumes'] as const) if (c[f] != null && !isObject(c[f])) throw bad(f, 'an object');
  const h = c.Healthcheck;
  if (h != null) {
    if (!isObject(h)) throw bad('Healthcheck', 'an object');
    if (h.Test != null && !isStrings(h.Test)) throw invalid(what, 'config.Healthcheck.Test is not an array of strings');
    for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) {
      if (h[f] != null && (typeof h[f] !== 'number' || !Number.isFinite(h[f]))) throw invalid(what, `config.Healthcheck.${f} is not a number`);
    }
  }
}

/** ChainIDs per image-spec config.md: `ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))`. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap as isYamlMap, parseDocument, type Node as YamlNode } from 'yaml';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { readEnvFile } from './env-file.js';
import { interpolateTree, type Variables } from './interpolate.js';
import { validateCompose } from './validate.js';
import { readInputFileSync } from '../internal/read-input-file.js';

const log = logger('compose');

/**
 * A service after normalisation: list forms turned into maps, relative paths made absolute.
 * @example
 * import { ComposeEnvironment, type RawService } from 'slipway';
 * const services: Record<string, RawService> = new ComposeEnvironment('./deploy').config().services;
 * services.api?.image; // after interpolation and normalisation
 */
export type RawService = Record<string, unknown>;

/**
 * Compose files merged into one document (the model `docker compose config` prints), before profiles and mapping.
 * @example
 * import { ComposeEnvironment, type ComposeDocument } from 'slipway';
 * const doc: ComposeDocument = new ComposeEnvironment('./deploy', 'compose.yml').withEnvironment({ TAG: 'test' }).config();
 * Object.keys(doc.services); // like `docker compose config --services`
 */
export interface ComposeDocument {
  name?: string;
  services: Record<string, RawService>;
  networks: Record<string, Record<string, unknown>>;
  volumes: Record<string, Record<string, unknown>>;
  /** Top-level secrets: `file` (absolute) or `environment` (a variable's value). */
  secrets: Record<string, Record<string, unknown>>;
  /** Top-level configs: `file` (absolute), `environment` or `content`. */
  configs: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/** `!reset` / `!override` found in one file: key paths from the document's root. */
interface MergeTags { reset: string[][]; override: string[][] }
const tagsOf = new WeakMap<ComposeDocument, MergeTags>();
/** The named resources `include` may not define twice. */
const RESOURCES = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

/**
 * Parses YAML and notes where the Compose merge tags are: `!reset` (the key is dropped here and from what this file
 * is merged over) and `!override` (its value replaces the base's instead of merging with it).
 */
function parseWithTags(text: string, path: string): { doc: unknown; tags: MergeTags } {
  const parsed = parseDocument(text, { merge: true, uniqueKeys: true });
  if (parsed.errors.length) {
    const e = parsed.errors[0]!;
    throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: not valid YAML: ${e.message.split('\n')[0]}`, { hint: 'fix the YAML at the line named', cause: e });
  }
  for (const w of parsed.warnings) if (!/Unresolved tag: !(reset|override)\b/.test(w.message)) log('%s: %s', path, w.message.split('\n')[0]);
  const tags: MergeTags = { reset: [], override: [] };
  const walk = (node: unknown, at: string[]): void => {
    if (!isYamlMap(node)) return;
    for (const pair of node.items) {
      const key = (pair.key as { value?: unknown } | null)?.value;
      if (typeof key !== 'string') continue;
      const value = pair.value as YamlNode | null;
      const tag = value?.tag;
      if (tag === '!reset') tags.reset.push([...at, key]);
      else if (tag === '!override') tags.override.push([...at, key]);
      walk(value, [...at, key]);
    }
  };
  walk(parsed.contents, []);
  let doc: unknown;
  try {
    doc = parsed.toJS({ maxAliasCount: 1000 }) as unknown;
  } catch (e) {
    // yaml refuses aliases that expand without end (a "billion laughs" file) with a plain ReferenceError.
    throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: YAML aliases expand too far (${(e as Error).message})`, {
      hint: 'the file\'s anchors and aliases (&name, *name) nest into an exponential tree; write the values out, or use fewer levels of aliases', cause: e,
    });
  }
  // A reset key is absent from this file (and, when merged, from the result).
  for (const p of tags.reset) deleteAt(doc, p);
  return { doc, tags };
}

function getAt(v: unknown, path: readonly string[]): unknown {
  for (const k of path) v = isMap(v) ? v[k] : undefined;
  return v;
}
function deleteAt(v: unknown, path: readonly string[]): void {
  const parent = getAt(v, path.slice(0, -1));
  if (isMap(parent)) delete parent[path.at(-1)!];
}
function setAt(v: unknown, path: readonly string[], value: unknown): void {
  const parent = getAt(v, path.slice(0, -1));
  if (isMap(parent)) parent[path.at(-1)!] = value;
}

/** After merging `over` (whose tags are `tags`, paths under `prefix`) onto a base: `!reset` keys go, `!override` ones replace. */
function applyTags(merged: unknown, over: unknown, tags: MergeTags | undefined, prefix: readonly string[] = []): void {
  if (!tags) return;
  const under = (p: string[]) => p.length > prefix.length && prefix.every((k, i) => p[i] === k);
  for (const p of tags.reset.filter(under)) deleteAt(merged, p.slice(prefix.length));
  for (const p of tags.override.filter(under)) {
    const rel = p.slice(prefix.length);
    setAt(merged, rel, structuredClone(getAt(over, rel)));
  }
}

/** Reads one file: YAML → interpolated → validated → normalised, relative paths against `baseDir`. */
function loadFile(path: string, vars: Variables, baseDir: string): ComposeDocument {
  let text: string;
  try {
    text = readInputFileSync(path);
  } catch (e) {
    throw new SlipwayError('ERR_COMPOSE_INVALID', `cannot read compose file ${path}: ${(e as Error).message}`, { hint: 'check the directory and file names given to ComposeEnvironment', cause: e });
  }
  let { doc, tags } = parseWithTags(text, path);
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: the top level must be a mapping (services:, networks:, …)`);
  const unset = new Set<string>();
  doc = interpolateTree(doc, vars, path, (name, at) => {
    if (!unset.has(name)) log('%s: %s: variable %s is not set; using the empty string', path, at, name);
    unset.add(name);
  });
  validateCompose(doc, path);
  const d = doc as Record<string, unknown>;
  if ('version' in d) log('%s: the top-level "version" is obsolete and ignored', path);
  if (d.models !== undefined) throw new SlipwayError('ERR_UNSUPPORTED', `${path}: the top-level "models" is not supported`, { hint: 'remove "models"' });
  const services: Record<string, RawService> = {};
  for (const [name, svc] of Object.entries((d.services ?? {}) as Record<string, unknown>)) {
    services[name] = normalizeService((svc ?? {}) as RawService, baseDir, `${path}: services.${name}`);
  }
  const fileBacked = (kind: string) => {
    const out = mapOfMaps(d[kind]);
    for (const def of Object.values(out)) if (typeof def.file === 'string') def.file = hostPath(def.file, baseDir);
    return out;
  };
  const out = {
    ...d,
    services,
    networks: mapOfMaps(d.networks),
    volumes: mapOfMaps(d.volumes),
    secrets: fileBacked('secrets'),
    configs: fileBacked('configs'),
  } as ComposeDocument;
  tagsOf.set(out, tags);
  return out;
}

function mapOfMaps(v: unknown): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, x] of Object.entries((v ?? {}) as Record<string, unknown>)) out[k] = (x ?? {}) as Record<string, unknown>;
  return out;
}

/**
 * Loads and merges Compose files as `docker compose -f a -f b` does: each file interpolated, validated and its
 * `extends` resolved, then merged in order (mappings merged, most sequences appended without duplicates,
 * `command`/`entrypoint`/`healthcheck.test` replaced, `volumes` merged by target). Relative paths are resolved against
 * `projectDir` (for a file reached through `extends.file`, against that file's directory).
 * @throws SlipwayError `ERR_COMPOSE_INVALID`.
 */
export function loadCompose(projectDir: string, files: readonly string[], vars: Variables): ComposeDocument {
  const cache = new Map<string, ComposeDocument>();
  const read = (path: string, baseDir: string, v: Variables = vars, including: readonly string[] = []): ComposeDocument => {
    const key = `${path}\0${baseDir}`;
    let doc = v === vars ? cache.get(key) : undefined;
    if (!doc) {
      doc = loadFile(path, v, baseDir);
      if (v === vars) cache.set(key, doc);
      doc = resolveIncludes(doc, path, baseDir, v, [...including, path], read);
      resolveExtends(doc, path, baseDir, read);
    }
    return doc;
  };
  let merged: ComposeDocument = { services: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
  for (const f of files) {
    const doc = read(resolve(projectDir, f), projectDir);
    merged = mergeDocuments(merged, doc);
  }
  delete merged.include;
  return merged;
}

type Reader = (path: string, baseDir: string, vars?: Variables, including?: readonly string[]) => ComposeDocument;

/**
 * The top-level `include`: each entry's files (merged as overrides of one another) loaded as a project of their own
 * (relative paths against `project_directory`, else the first file's directory; its `env_file` gives defaults for
 * interpolation), and their resources added to this file's. A resource defined on both sides is an error, as in
 * the Compose Specification.
 */
function resolveIncludes(doc: ComposeDocument, path: string, baseDir: string, vars: Variables, including: readonly string[], read: Reader): ComposeDocument {
  const entries = (doc.include as unknown[] | undefined) ?? [];
  if (!entries.length) return doc;
  const out: ComposeDocument = { ...doc };
  delete out.include;
  for (const kind of RESOURCES) out[kind] = { ...doc[kind] };
  const from = new Map<string, string>();
  for (const entry of entries) {
    const e = typeof entry === 'string' ? { path: entry } : (entry as { path: string | string[]; env_file?: string | string[]; project_directory?: string });
    const paths = (Array.isArray(e.path) ? e.path : [e.path]).map((p) => hostPath(p, dirname(path)));
    const dir = e.project_directory !== undefined ? hostPath(e.project_directory, dirname(path)) : dirname(paths[0]!);
    let v = vars;
    for (const f of e.env_file === undefined ? [] : Array.isArray(e.env_file) ? e.env_file : [e.env_file]) v = { ...readEnvFile(hostPath(f, dirname(path)), vars), ...v };
    let sub: ComposeDocument = { services: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
    for (const p of paths) {
      if (including.includes(p)) throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: include cycle: ${[...including, p].join(' → ')}`, { hint: 'remove one of the include entries' });
      sub = mergeDocuments(sub, read(p, dir, v, including));
    }
    for (const kind of RESOURCES) {
      for (const [name, def] of Object.entries(sub[kind])) {
        if (name in out[kind]) {
          throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: ${kind}.${name} is defined both here (or by another include) and by the included ${from.get(`${kind}.${name}`) ?? paths.join(', ')}`, {
            hint: `rename one of them, or extend the included one (extends: { file: ..., service: ${name} }) instead of including it`,
          });
        }
        (out[kind] as Record<string, unknown>)[name] = def;
        from.set(`${kind}.${name}`, paths.join(', '));
      }
    }
  }
  tagsOf.set(out, tagsOf.get(doc)!);
  return out;
}

function resolveExtends(doc: ComposeDocument, path: string, baseDir: string, read: Reader): void {
  const done = new Set<string>();
  const visit = (name: string, stack: string[]): RawService => {
    const svc = doc.services[name];
    if (!svc) throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: services.${stack.at(-1) ?? name}.extends names service "${name}", which ${path} does not define`);
    if (done.has(name) || svc.extends === undefined) return svc;
    if (stack.includes(name)) throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: extends cycle: ${[...stack, name].join(' → ')}`);
    const ext = typeof svc.extends === 'string' ? { service: svc.extends } : (svc.extends as { service: string; file?: string });
    let base: RawService;
    if (ext.file !== undefined) {
      const other = resolve(dirname(path), ext.file);
      const otherDoc = read(other, dirname(other));
      base = otherDoc.services[ext.service] as RawService;
      if (!base) throw new SlipwayError('ERR_COMPOSE_INVALID', `${path}: services.${name}.extends names service "${ext.service}", which ${other} does not define`);
    } else {
      base = visit(ext.service, [...stack, name]);
    }
    const { extends: _e, ...own } = svc;
    // What a service inherits: everything but its base's dependencies on services that are not in this file (compose keeps them; so do we).
    const { extends: _b, ...inherited } = base;
    const result = mergeService(inherited, own);
    applyTags(result, own, tagsOf.get(doc), ['services', name]);
    doc.services[name] = result;
    done.add(name);
    return result;
  };
  for (const name of Object.keys(doc.services)) visit(name, []);
}

function mergeDocuments(a: ComposeDocument, b: ComposeDocument): ComposeDocument {
  const services = { ...a.services };
  for (const [name, svc] of Object.entries(b.services)) services[name] = services[name] ? mergeService(services[name]!, svc) : svc;
  const merged: ComposeDocument = {
    ...a,
    ...b,
    services,
    networks: deepMerge(a.networks, b.networks, '') as ComposeDocument['networks'],
    volumes: deepMerge(a.volumes, b.volumes, '') as ComposeDocument['volumes'],
    secrets: deepMerge(a.secrets, b.secrets, '') as ComposeDocument['secrets'],
    configs: deepMerge(a.configs, b.configs, '') as ComposeDocument['configs'],
  };
  applyTags(merged, b, tagsOf.get(b));
  return merged;
}

/** Keys whose value an override replaces whole (compose-spec merge.md). */
const REPLACED = new Set(['command', 'entrypoint', 'healthcheck.test']);

/** One service merged over another with the Compose Specification's merge rules. */
export function mergeService(base: RawService, over: RawService): RawService {
  const out = deepMerge(base, over, '') as RawService;
  if (Array.isArray(base.volumes) || Array.isArray(over.volumes)) {
    const byTarget = new Map<string, unknown>();
    for (const v of [...((base.volumes as unknown[]) ?? []), ...((over.volumes as unknown[]) ?? [])]) byTarget.set(String((v as { target?: unknown }).target), v);
    out.volumes = [...byTarget.values()];
  }
  return out;
}

function deepMerge(a: unknown, b: unknown, path: string): unknown {
  if (REPLACED.has(path)) return b;
  if (isMap(a) && isMap(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v, path ? `${path}.${k}` : k) : v;
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const seen = new Set(a.map((x) => JSON.stringify(x)));
    return [...a, ...b.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  return b;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `KEY=VAL` / `KEY` list or a map → a map (null for a bare KEY: taken from the environment later). */
function listToMap(v: unknown, sep: RegExp = /=/): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const m = sep.exec(s);
      if (m) out[s.slice(0, m.index)] = s.slice(m.index + m[0].length);
      else out[s] = null;
    }
  } else if (isMap(v)) {
    for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? null : Array.isArray(x) ? x.map(String).join(',') : String(x);
  }
  return out;
}

/** Absolute host path: `~` is the home directory, relative paths are against `baseDir`. */
export function hostPath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Turns each service's list forms into maps and its relative paths into absolute ones, so files merge key by key. */
function normalizeService(svc: RawService, baseDir: string, where: string): RawService {
  const out: RawService = { ...svc };
  if ('environment' in svc) out.environment = listToMap(svc.environment);
  if ('labels' in svc) out.labels = listToMap(svc.labels);
  if ('extra_hosts' in svc) out.extra_hosts = listToMap(svc.extra_hosts, Array.isArray(svc.extra_hosts) ? /[=:]/ : /=/);
  if ('depends_on' in svc) {
    const deps: Record<string, Record<string, unknown>> = {};
    if (Array.isArray(svc.depends_on)) for (const d of svc.depends_on) deps[String(d)] = { condition: 'service_started', required: true };
    else for (const [k, v] of Object.entries(svc.depends_on as Record<string, Record<string, unknown> | null>)) deps[k] = { condition: 'service_started', required: true, ...(v ?? {}) };
    out.depends_on = deps;
  }
  if ('networks' in svc) {
    const nets: Record<string, Record<string, unknown>> = {};
    if (Array.isArray(svc.networks)) for (const n of svc.networks) nets[String(n)] = {};
    else for (const [k, v] of Object.entries(svc.networks as Record<string, Record<string, unknown> | null>)) nets[k] = v ?? {};
    out.networks = nets;
  }
  if ('env_file' in svc) {
    const list = Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
    out.env_file = list.map((e) => (typeof e === 'string' ? { path: hostPath(e, baseDir), required: true } : { required: true, ...(e as object), path: hostPath(String((e as { path: string }).path), baseDir) }));
  }
  if ('build' in svc) {
    const b: Record<string, unknown> = typeof svc.build === 'string' ? { context: svc.build } : { ...(svc.build as Record<string, unknown>) };
    b.context = hostPath(String(b.context ?? '.'), baseDir);
    if (b.args !== undefined) b.args = listToMap(b.args);
    out.build = b;
  }
  if (typeof svc.tmpfs === 'string') out.tmpfs = [svc.tmpfs];
  if (Array.isArray(svc.expose)) out.expose = svc.expose.map(String);
  if (isMap(svc.ulimits)) {
    const u: Record<string, { soft: number; hard: number }> = {};
    for (const [k, v] of Object.entries(svc.ulimits)) u[k] = typeof v === 'number' || typeof v === 'string' ? { soft: Number(v), hard: Number(v) } : { soft: Number((v as { soft: unknown }).soft), hard: Number((v as { hard: unknown }).hard) };
    out.ulimits = u;
  }
  if (Array.isArray(svc.volumes)) out.volumes = svc.volumes.map((v) => normalizeVolume(v, baseDir, where));
  for (const kind of ['secrets', 'configs'] as const) {
    if (Array.isArray(svc[kind])) out[kind] = (svc[kind] as unknown[]).map((x) => (typeof x === 'string' ? { source: x } : { ...(x as object) }));
  }
  return out;
}

/** A service volume in long syntax: `{ type, source, target, read_only }`; bind sources absolute. */
function normalizeVolume(v: unknown, baseDir: string, where: string): Record<string, unknown> {
  if (isMap(v)) {
    const out = { ...v };
    if (out.type === 'bind' && typeof out.source === 'string') out.source = hostPath(out.source, baseDir);
    return out;
  }
  const s = String(v);
  // SOURCE:TARGET[:MODE] | TARGET; Windows drive letters are not a concern here.
  const parts = s.split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0] };
  if (parts.length > 3) throw new SlipwayError('ERR_COMPOSE_INVALID', `${where}.volumes: cannot parse ${JSON.stringify(s)}`, { hint: 'write SOURCE:TARGET[:ro], TARGET, or the long syntax' });
  const [source, target, mode = ''] = parts as [string, string, string?];
  const modes = mode.split(',').filter(Boolean);
  for (const m of modes) if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'cached', 'delegated', 'consistent'].includes(m)) throw new SlipwayError('ERR_COMPOSE_INVALID', `${where}.volumes: unknown mode "${m}" in ${JSON.stringify(s)}`, { hint: 'use ro or rw' });
  const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
  return { type: bind ? 'bind' : 'volume', source: bind ? hostPath(source, baseDir) : source, target, read_only: modes.includes('ro') };
}

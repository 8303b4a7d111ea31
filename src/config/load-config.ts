/**
 * Finds and merges slipway's configuration, lowest precedence first:
 * defaults < `~/.testcontainers.properties` (`hub.image.name.prefix`, `testcontainers.reuse.enable`) < `$XDG_CONFIG_HOME/slipway/config.json`
 * (`~/.config/slipway/config.json`) < `slipway.config.json` (the nearest from the working directory upward, or the
 * file `$SLIPWAY_CONFIG` names) < environment variables (`SLIPWAY_*` before testcontainers' `TESTCONTAINERS_*`).
 * Read once per operation (`withSettings`: a start, a CLI command), so the next one sees a changed variable or file.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { statSync } from 'node:fs';
import path from 'node:path';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { readInputFileSync } from '../internal/read-input-file.js';
import { SETTINGS, SETTING_KEYS, homeOf, type SettingKey, type SlipwayConfig, type ValueSource } from './settings.js';

/** The name of a project config file, looked for from the working directory upward. */
export const PROJECT_CONFIG_NAME = 'slipway.config.json';
const MAX_CONFIG_BYTES = 1 << 20;
const log = logger('config');
/** The `~/.testcontainers.properties` keys slipway reads, and the settings they set. */
const TESTCONTAINERS_PROPERTIES: readonly (readonly [string, SettingKey])[] = [
  ['hub.image.name.prefix', 'hubImageNamePrefix'],
  ['testcontainers.reuse.enable', 'reuse'],
  ['ryuk.container.privileged', 'reaperPrivileged'],
];

/** Where {@link loadConfig} looks. */
export interface ConfigSources {
  /** @defaultValue `process.cwd()` */
  cwd?: string;
  /** @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
}

/** The effective configuration and where each value came from. */
export interface LoadedConfig {
  values: SlipwayConfig;
  /** Per setting: `default`, a file path, or `env NAME`. */
  origins: Record<SettingKey, string>;
  /** The files that were found and read, lowest precedence first. */
  files: string[];
}

/** The config files that apply for a working directory and environment (existing or not), lowest precedence first. */
export function configFiles(sources: ConfigSources = {}): { testcontainers: string; user: string; project: string | undefined } {
  const env = sources.env ?? process.env;
  const home = homeOf(env);
  const configHome = env.XDG_CONFIG_HOME ? path.resolve(env.XDG_CONFIG_HOME) : path.join(home, '.config');
  return {
    testcontainers: path.join(home, '.testcontainers.properties'),
    user: path.join(configHome, 'slipway', 'config.json'),
    project: env.SLIPWAY_CONFIG ? path.resolve(env.SLIPWAY_CONFIG) : findUpward(sources.cwd ?? currentDir()),
  };
}

/** The working directory; undefined when it was removed under us (`process.cwd()` throws ENOENT then). */
function currentDir(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}

function findUpward(start: string | undefined): string | undefined {
  if (start === undefined) return undefined;
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, PROJECT_CONFIG_NAME);
    if (readText(candidate, false) !== undefined) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** A file's text; `undefined` when it does not exist. Other failures are ERR_CONFIG naming the file when `strict`. */
function readText(file: string, strict = true): string | undefined {
  // Most of these files do not exist (the project file is looked for in every directory up to /): a stat that
  // answers undefined is much cheaper than an open that throws an error object for each.
  try {
    if (!statSync(file, { throwIfNoEntry: false })) return undefined;
  } catch {
    // ENOTDIR, EACCES…: the open below says what it is.
  }
  try {
    // Regular files only, bounded before reading: a FIFO here would block every start, /dev/zero would be read until
    // memory ran out.
    return readInputFileSync(file, MAX_CONFIG_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EFBIG') throw new SlipwayError('ERR_CONFIG', `${file}: larger than ${MAX_CONFIG_BYTES} bytes; is it a config file?`, { hint: `remove or fix ${file}`, cause: e });
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (!strict) return code === 'EISDIR' ? undefined : '';
    throw new SlipwayError('ERR_CONFIG', `cannot read the config file ${file}: ${(e as Error).message}`, {
      hint: code === 'EINVAL' ? `${file} must be a regular JSON file: replace or remove it` : `make ${file} readable, or remove it`, cause: e,
    });
  }
}

/**
 * The settings of one operation (a `start()`, a CLI command): read on its first use, then handed to everything the
 * operation calls, so a start reads the files once (it used to read them ~5 times, ~8 paths each) and the next start
 * sees an edit. `open` ends with the operation: a callback it left behind (a keeper's socket, a timer) reads afresh.
 */
interface Scope {
  sources: ConfigSources;
  config?: LoadedConfig;
  open: boolean;
}
const scopes = new AsyncLocalStorage<Scope>();

/**
 * Runs `fn` with one reading of the settings: every {@link loadConfig} / {@link configValue} inside it (with the same
 * sources) gets that reading, made on the first use. Inside another open scope of the same sources, `fn` shares it.
 */
export async function withSettings<T>(fn: () => Promise<T>, sources: ConfigSources = {}): Promise<T> {
  const outer = scopes.getStore();
  if (outer && sameSources(outer, sources)) return fn();
  const scope: Scope = { sources, open: true };
  try {
    return await scopes.run(scope, fn);
  } finally {
    scope.open = false;
  }
}

function sameSources(scope: Scope, sources: ConfigSources): boolean {
  return scope.open && (sources.env ?? process.env) === (scope.sources.env ?? process.env) && (sources.cwd === undefined || sources.cwd === scope.sources.cwd);
}

/**
 * Loads the effective configuration: inside {@link withSettings}, that operation's reading; else from the files now.
 * @throws SlipwayError `ERR_CONFIG` naming the file, the key path and the allowed values.
 */
export function loadConfig(sources: ConfigSources = {}): LoadedConfig {
  const scope = scopes.getStore();
  if (!scope || !sameSources(scope, sources)) return loadConfigNow(sources);
  scope.config ??= loadConfigNow(scope.sources);
  // A copy: a caller that edits its values must not change what the rest of the operation reads.
  return structuredClone(scope.config);
}

/** The operation's reading itself (not a copy: callers only read a value of it), as {@link loadConfig} would load it. */
function sharedConfig(sources: ConfigSources): LoadedConfig {
  const scope = scopes.getStore();
  if (!scope || !sameSources(scope, sources)) return loadConfigNow(sources);
  return (scope.config ??= loadConfigNow(scope.sources));
}

function loadConfigNow(sources: ConfigSources): LoadedConfig {
  const env = sources.env ?? process.env;
  const home = homeOf(env);
  const values = Object.fromEntries(SETTING_KEYS.map((k) => [k, SETTINGS[k].byDefault(env, home)])) as unknown as Record<SettingKey, unknown>;
  const origins = Object.fromEntries(SETTING_KEYS.map((k) => [k, 'default'])) as Record<SettingKey, string>;
  const files: string[] = [];
  const where = configFiles(sources);

  const tcText = readText(where.testcontainers);
  if (tcText !== undefined) {
    files.push(where.testcontainers);
    for (const [property, key] of TESTCONTAINERS_PROPERTIES) {
      const text = propertiesValue(tcText, property);
      if (!text) continue;
      const src: ValueSource = { origin: where.testcontainers, keyPath: property, baseDir: path.dirname(where.testcontainers), home };
      values[key] = SETTINGS[key].fromText(text, src);
      origins[key] = where.testcontainers;
    }
  }
  for (const file of [where.user, where.project]) {
    if (file === undefined) continue;
    const text = readText(file);
    if (text === undefined) {
      if (file === where.project && env.SLIPWAY_CONFIG) {
        throw new SlipwayError('ERR_CONFIG', `SLIPWAY_CONFIG names ${file}, which does not exist`, { hint: 'point SLIPWAY_CONFIG at a slipway config file, or unset it' });
      }
      continue;
    }
    files.push(file);
    for (const [key, raw] of Object.entries(parseJsonObject(text, file))) {
      const src: ValueSource = { origin: file, keyPath: key, baseDir: path.dirname(file), home };
      values[key as SettingKey] = SETTINGS[key as SettingKey].fromJson(raw, src);
      origins[key as SettingKey] = file;
    }
  }
  for (const key of SETTING_KEYS) {
    // The first variable listed wins: SLIPWAY_* before testcontainers' names.
    const name = [...SETTINGS[key].env].find((n) => env[n] !== undefined && env[n] !== '');
    if (!name) continue;
    const src: ValueSource = { origin: `env ${name}`, keyPath: name, baseDir: sources.cwd ?? currentDir() ?? home, home };
    values[key] = SETTINGS[key].fromText(env[name]!, src);
    origins[key] = `env ${name}`;
  }
  log('read %s', files.length ? files.join(', ') : 'no config file');
  return { values: values as unknown as SlipwayConfig, origins, files };
}

/** One effective setting (see {@link loadConfig}). */
export function configValue<K extends SettingKey>(key: K, env?: NodeJS.ProcessEnv): SlipwayConfig[K] {
  // A copy of this one value (a list, a record), not of the whole reading: a start asks ~6 values, and cloning
  // every setting with its origin each time cost more than the values themselves.
  const value = sharedConfig({ env }).values[key];
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SlipwayError('ERR_CONFIG', `${file} is not valid JSON: ${(e as Error).message}`, {
      hint: `fix the JSON in ${file} (an object such as {"registryMirrors": ["mirror.gcr.io"]})`, cause: e,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SlipwayError('ERR_CONFIG', `${file}: the top level is ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}; allowed: an object of settings`, {
      hint: `write an object such as {"registryMirrors": ["mirror.gcr.io"]} in ${file}`,
    });
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '$schema') continue;
    if (!(SETTING_KEYS as string[]).includes(key)) {
      throw new SlipwayError('ERR_CONFIG', `${file}: unknown setting ${JSON.stringify(key)}; allowed: ${SETTING_KEYS.join(', ')}`, {
        hint: `remove or rename ${key} in ${file}`,
      });
    }
    out[key] = value;
  }
  return out;
}

/** The value of `key` in a Java properties file (`key=value`, `key: value` or `key value`; `#`/`!` comments). */
export function propertiesValue(text: string, key: string): string | undefined {
  let found: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m && m[1]!.replace(/\\(.)/g, '$1') === key) found = m[2]!.trim();
  }
  return found;
}

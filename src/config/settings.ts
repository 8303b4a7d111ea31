/**
 * The settings a config file or the environment may set: their names, environment variables, allowed values and
 * parsers. One table, read by discovery (`load-config.ts`) and by `slipway info`.
 */
import os from 'node:os';
import path from 'node:path';
import { SlipwayError } from '../errors.js';

/** Pull policy: `missing` uses the store when the image is there; `always` asks the registry again; `never` only uses the store. */
export type ConfiguredPullPolicy = 'missing' | 'always' | 'never';

/** The effective configuration: every setting with its value (defaults filled in). */
export interface SlipwayConfig {
  /** Registries Docker Hub pulls try first, in order (falling back to Hub), e.g. `mirror.gcr.io` or `http://127.0.0.1:5000`. */
  registryMirrors: string[];
  /** Replaces Docker Hub for images named without a registry (testcontainers' `hub.image.name.prefix`), e.g. `registry.corp/dockerhub`. */
  hubImageNamePrefix: string | undefined;
  /** Registries spoken to over plain HTTP (loopback always is). */
  insecureRegistries: string[];
  /** Registry host → credential helper (`docker-credential-<name>`), checked before the Docker config's. */
  credentialHelpers: Record<string, string>;
  /** The pull policy of containers that set none. */
  pullPolicy: ConfiguredPullPolicy;
  /** Bound of a whole pull in ms (`Infinity`: none). */
  pullTimeout: number;
  /**
   * How many times its compressed size a layer may write to the store past its first GiB (zero chunks left as holes
   * are not counted); `Infinity`: no bound. A gzip layer of a few MiB can expand to tens of GiB of real files.
   */
  layerExpansionLimit: number;
  /** The startup (wait strategy) timeout of containers that set none, in ms. */
  startupTimeout: number;
  /** The image store. */
  storeDir: string;
  /** Where keepers keep per-container state; `undefined`: `$XDG_RUNTIME_DIR/slipway`, `/run/slipway` (root) or `$TMPDIR/slipway-<uid>`. */
  stateDir: string | undefined;
  /**
   * The container runtime: `native` (slipway's own, user namespaces), `engine` (a Docker or Podman Engine API:
   * `DOCKER_HOST`, the Docker context, the usual sockets) or `auto` (native when a user namespace can be made, else
   * the first engine that answers).
   */
  runtime: RuntimeChoice;
  /**
   * Whether `withReuse()` is honoured (testcontainers' `TESTCONTAINERS_REUSE_ENABLE` / `testcontainers.reuse.enable`):
   * on unless set to false, as in testcontainers-node; `withReuse()` on the builder is the opt-in.
   */
  reuse: boolean;
  /** How long a container kept for reuse across runs lives once no process uses it, in ms (the reuse keeper then removes it). */
  reuseIdleTimeout: number;
  /**
   * Engine runtime: whether a reaper container (as testcontainers' Ryuk) holds the session instead of the local
   * watchdog: `auto` (remote engines only), `on` (every engine) or `off` (the watchdog only; testcontainers'
   * `TESTCONTAINERS_RYUK_DISABLED=true` means this).
   */
  reaper: ReaperChoice;
  /** Engine runtime: the reaper container's image; any image with perl-base (Debian's) runs the reaper script. */
  reaperImage: string;
  /**
   * Engine runtime: how long the reaper waits for the test process to reconnect after its connection dropped before
   * it removes the session's resources, in ms (Ryuk's `RYUK_RECONNECTION_TIMEOUT`, default 10 s).
   */
  reaperReconnectTimeout: number;
  /**
   * Engine runtime: whether the reaper container runs privileged (testcontainers' `TESTCONTAINERS_RYUK_PRIVILEGED`,
   * `ryuk.container.privileged`): for engines whose policy (SELinux) keeps an unprivileged container from the socket.
   */
  reaperPrivileged: boolean;
  /**
   * Engine runtime: the engine's socket as a path on the engine's host, mounted into the reaper container
   * (testcontainers' `TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE`); `undefined`: the socket slipway talks to when it is
   * this machine's, else `/var/run/docker.sock` (remote engines, and Docker Desktop, Colima and Rancher Desktop, whose
   * sockets here are forwards of their VM's).
   */
  dockerSocketOverride: string | undefined;
  /**
   * Native runtime: whether the keeper keeps one prepared network namespace (slirp4netns already attached and ready)
   * per outbound-helper command line, so that an isolated container's boot does not wait for slirp4netns' start.
   */
  networkPool: boolean;
}

/** Whether a reaper container holds an engine session: `auto` (remote engines), `on` or `off`. */
export type ReaperChoice = 'auto' | 'on' | 'off';

/** A setting's name. */
export type SettingKey = keyof SlipwayConfig;

/** Where a raw value comes from: used for error messages and to resolve relative paths. */
export interface ValueSource {
  /** `/abs/slipway.config.json`, `env SLIPWAY_X` or `/home/u/.testcontainers.properties`. */
  origin: string;
  /** The key path in that source (`registryMirrors[1]`, `SLIPWAY_REGISTRY_MIRROR`). */
  keyPath: string;
  /** Relative paths resolve against this directory. */
  baseDir: string;
  /** The home directory `~/` expands to. */
  home: string;
}

interface Setting<K extends SettingKey> {
  key: K;
  /** Environment variables, highest precedence first. */
  env: readonly string[];
  /** What a value may be, for error messages and `slipway info`. */
  allowed: string;
  /** An example value for hints. */
  example: string;
  /** The value when nothing sets it (`env` gives the process's environment for path defaults). */
  byDefault(env: NodeJS.ProcessEnv, home: string): SlipwayConfig[K];
  /** Parses a JSON value from a file. */
  fromJson(value: unknown, src: ValueSource): SlipwayConfig[K];
  /** Parses an environment variable's text. */
  fromText(text: string, src: ValueSource): SlipwayConfig[K];
}

function invalid(src: ValueSource, value: unknown, allowed: string): SlipwayError {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = typeof value;
  }
  if (shown.length > 120) shown = `${shown.slice(0, 120)}…`;
  if (src.origin.startsWith('env ')) {
    return new SlipwayError('ERR_CONFIG', `invalid ${src.keyPath}: ${shown}; allowed: ${allowed}`, {
      hint: `set ${src.keyPath} to an allowed value or unset it (\`slipway info\` prints the effective configuration and where each value comes from)`,
    });
  }
  return new SlipwayError('ERR_CONFIG', `invalid config file ${src.origin}: ${src.keyPath} is ${shown}; allowed: ${allowed}`, {
    hint: `correct or remove ${src.keyPath} in ${src.origin} (\`slipway info\` prints the effective configuration and where each value comes from)`,
  });
}

const HOST_RE = /^(?:https?:\/\/)?[A-Za-z0-9.-]+(?::\d{1,5})?\/?$/;

function str(value: unknown, src: ValueSource, allowed: string, ok: (s: string) => boolean = (s) => s !== ''): string {
  if (typeof value !== 'string' || !ok(value.trim())) throw invalid(src, value, allowed);
  return value.trim();
}

function list(value: unknown, src: ValueSource, allowed: string, item: (v: unknown, s: ValueSource) => string): string[] {
  if (!Array.isArray(value)) throw invalid(src, value, `an array of ${allowed}`);
  return value.map((v, i) => item(v, { ...src, keyPath: `${src.keyPath}[${i}]` }));
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

function ms(value: unknown, src: ValueSource, allowed: string, infinity: boolean): number {
  const n = typeof value === 'string' && value.trim() !== '' ? (value.trim() === 'Infinity' ? Infinity : Number(value)) : value;
  if (typeof n !== 'number' || Number.isNaN(n) || n <= 0 || (!infinity && !Number.isFinite(n))) throw invalid(src, value, allowed);
  return n;
}

function dir(value: unknown, src: ValueSource, allowed: string): string {
  const s = str(value, src, allowed, (v) => v !== '' && !v.includes('\0'));
  if (s === '~' || s.startsWith('~/')) return path.join(src.home, s.slice(1));
  return path.resolve(src.baseDir, s);
}

const HOST = 'a registry host[:port] or http(s)://host[:port], e.g. "mirror.gcr.io"';
const hostItem = (v: unknown, s: ValueSource): string => str(v, s, HOST, (x) => HOST_RE.test(x));
const POLICIES = ['missing', 'always', 'never'] as const;
const POLICY_ALLOWED = '"missing", "always" or "never"';
const HELPERS_ALLOWED = 'an object of registry host → helper name (docker-credential-<name>), e.g. {"registry.corp": "ecr-login"}';
const PREFIX_ALLOWED = 'a registry host with an optional path, e.g. "registry.corp/dockerhub"';
const BOOL_ALLOWED = 'true or false';
const PREFIX_RE = /^[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[a-z0-9._-]+)*\/?$/;

function helpers(value: unknown, src: ValueSource): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(src, value, HELPERS_ALLOWED);
  const out: Record<string, string> = {};
  for (const [host, helper] of Object.entries(value)) {
    const at = { ...src, keyPath: `${src.keyPath}.${host}` };
    if (!HOST_RE.test(host)) throw invalid({ ...src, keyPath: `${src.keyPath} key` }, host, HOST);
    out[host.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '')] = str(helper, at, 'a helper name such as "ecr-login" (runs docker-credential-ecr-login)', (s) => /^[A-Za-z0-9._-]+$/.test(s));
  }
  return out;
}

function defaultStore(env: NodeJS.ProcessEnv, home: string): string {
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'slipway');
  return path.join(home, '.cache', 'slipway');
}

const REAPER_ALLOWED = '"auto", "on" or "off"';
const REAPERS: readonly ReaperChoice[] = ['auto', 'on', 'off'];
const IMAGE_ALLOWED = 'an image reference with perl (perl-base), e.g. "debian:bookworm-slim"';
const IMAGE_RE = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]*$/;
const DURATION_ALLOWED = 'a positive number of milliseconds, or a duration such as "10s", "500ms" or "1m"';
const SOCKET_ALLOWED = 'an absolute path on the engine\'s host, e.g. "/var/run/docker.sock"';

/** Every setting, in the order `slipway info` prints them. */
export const SETTINGS: { readonly [K in SettingKey]: Setting<K> } = {
  registryMirrors: {
    key: 'registryMirrors', env: ['SLIPWAY_REGISTRY_MIRROR'], allowed: `an array of ${HOST}`, example: '["mirror.gcr.io"]',
    byDefault: () => [],
    fromJson: (v, s) => list(v, s, HOST, hostItem),
    fromText: (t, s) => splitList(t).map((h) => hostItem(h, s)),
  },
  hubImageNamePrefix: {
    key: 'hubImageNamePrefix', env: ['SLIPWAY_HUB_IMAGE_NAME_PREFIX', 'TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX'], allowed: PREFIX_ALLOWED,
    example: '"registry.corp/dockerhub"',
    byDefault: () => undefined,
    fromJson: (v, s) => str(v, s, PREFIX_ALLOWED, (x) => PREFIX_RE.test(x)).replace(/\/+$/, ''),
    fromText: (t, s) => (t.trim() === '' ? undefined : str(t, s, PREFIX_ALLOWED, (x) => PREFIX_RE.test(x)).replace(/\/+$/, '')),
  },
  insecureRegistries: {
    key: 'insecureRegistries', env: ['SLIPWAY_INSECURE_REGISTRIES'], allowed: `an array of ${HOST}`, example: '["registry.lan:5000"]',
    byDefault: () => [],
    fromJson: (v, s) => list(v, s, HOST, hostItem),
    fromText: (t, s) => splitList(t).map((h) => hostItem(h, s)),
  },
  credentialHelpers: {
    key: 'credentialHelpers', env: ['SLIPWAY_CREDENTIAL_HELPERS'], allowed: `${HELPERS_ALLOWED} (environment: host=helper,host=helper)`,
    example: '{"123456789.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}',
    byDefault: () => ({}),
    fromJson: helpers,
    fromText: (t, s) => helpers(Object.fromEntries(splitList(t).map((pair) => {
      const i = pair.indexOf('=');
      if (i <= 0) throw invalid(s, t, 'host=helper pairs separated by commas, e.g. "registry.corp=ecr-login"');
      return [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
    })), s),
  },
  pullPolicy: {
    key: 'pullPolicy', env: ['SLIPWAY_PULL_POLICY'], allowed: POLICY_ALLOWED, example: '"missing"',
    byDefault: () => 'missing',
    fromJson: (v, s) => str(v, s, POLICY_ALLOWED, (x) => (POLICIES as readonly string[]).includes(x)) as ConfiguredPullPolicy,
    fromText: (t, s) => str(t, s, POLICY_ALLOWED, (x) => (POLICIES as readonly string[]).includes(x)) as ConfiguredPullPolicy,
  },
  pullTimeout: {
    key: 'pullTimeout', env: ['SLIPWAY_PULL_TIMEOUT'], allowed: 'a positive number of milliseconds, or "Infinity"', example: '600000',
    byDefault: () => 600_000,
    fromJson: (v, s) => ms(v, s, 'a positive number of milliseconds, or "Infinity"', true),
    fromText: (t, s) => ms(t, s, 'a positive number of milliseconds, or "Infinity"', true),
  },
  layerExpansionLimit: {
    key: 'layerExpansionLimit', env: ['SLIPWAY_LAYER_EXPANSION_LIMIT'], allowed: 'a positive ratio of written to compressed bytes, or "Infinity"', example: '100',
    byDefault: () => 100,
    fromJson: (v, s) => ms(v, s, 'a positive ratio of written to compressed bytes, or "Infinity"', true),
    fromText: (t, s) => ms(t, s, 'a positive ratio of written to compressed bytes, or "Infinity"', true),
  },
  startupTimeout: {
    key: 'startupTimeout', env: ['SLIPWAY_STARTUP_TIMEOUT'], allowed: 'a positive number of milliseconds', example: '60000',
    byDefault: () => 60_000,
    fromJson: (v, s) => ms(v, s, 'a positive number of milliseconds', false),
    fromText: (t, s) => ms(t, s, 'a positive number of milliseconds', false),
  },
  storeDir: {
    key: 'storeDir', env: ['SLIPWAY_CACHE_DIR', 'SLIPWAY_STORE_DIR'], allowed: 'a directory path (relative to the config file; ~/ for home)',
    example: '"~/.cache/slipway"',
    byDefault: defaultStore,
    fromJson: (v, s) => dir(v, s, 'a directory path (relative to the config file; ~/ for home)'),
    fromText: (t, s) => dir(t, s, 'a directory path'),
  },
  stateDir: {
    key: 'stateDir', env: ['SLIPWAY_STATE_DIR'], allowed: 'a directory path (relative to the config file; ~/ for home)', example: '"/run/user/1000/slipway"',
    byDefault: () => undefined,
    fromJson: (v, s) => dir(v, s, 'a directory path (relative to the config file; ~/ for home)'),
    fromText: (t, s) => dir(t, s, 'a directory path'),
  },
  runtime: {
    key: 'runtime', env: ['SLIPWAY_RUNTIME'], allowed: '"native", "engine" or "auto"', example: '"auto"',
    byDefault: () => 'native',
    fromJson: (v, s) => runtime(v, s),
    fromText: (t, s) => runtime(t, s),
  },
  reuse: {
    key: 'reuse', env: ['SLIPWAY_REUSE', 'TESTCONTAINERS_REUSE_ENABLE'], allowed: BOOL_ALLOWED, example: 'false',
    byDefault: () => true,
    fromJson: (v, s) => bool(v, s),
    fromText: (t, s) => bool(t, s),
  },
  reuseIdleTimeout: {
    key: 'reuseIdleTimeout', env: ['SLIPWAY_REUSE_IDLE_TIMEOUT'], allowed: 'a positive number of milliseconds', example: '600000',
    byDefault: () => 600_000,
    fromJson: (v, s) => ms(v, s, 'a positive number of milliseconds', false),
    fromText: (t, s) => ms(t, s, 'a positive number of milliseconds', false),
  },
  reaper: {
    key: 'reaper', env: ['SLIPWAY_REAPER', 'TESTCONTAINERS_RYUK_DISABLED'], allowed: REAPER_ALLOWED, example: '"auto"',
    byDefault: () => 'auto',
    fromJson: (v, s) => reaper(v, s),
    // testcontainers' variable says whether Ryuk is disabled: true is off, false leaves the default.
    fromText: (t, s) => (s.keyPath === 'TESTCONTAINERS_RYUK_DISABLED' ? (bool(t, s) ? 'off' : 'auto') : reaper(t, s)),
  },
  reaperImage: {
    key: 'reaperImage', env: ['SLIPWAY_REAPER_IMAGE'], allowed: IMAGE_ALLOWED, example: '"debian:bookworm-slim"',
    byDefault: () => 'debian:bookworm-slim',
    fromJson: (v, s) => str(v, s, IMAGE_ALLOWED, (x) => IMAGE_RE.test(x)),
    fromText: (t, s) => str(t, s, IMAGE_ALLOWED, (x) => IMAGE_RE.test(x)),
  },
  reaperReconnectTimeout: {
    key: 'reaperReconnectTimeout', env: ['SLIPWAY_REAPER_RECONNECT_TIMEOUT', 'TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT'], allowed: DURATION_ALLOWED, example: '10000',
    byDefault: () => 10_000,
    fromJson: (v, s) => duration(v, s),
    fromText: (t, s) => duration(t, s),
  },
  reaperPrivileged: {
    key: 'reaperPrivileged', env: ['SLIPWAY_REAPER_PRIVILEGED', 'TESTCONTAINERS_RYUK_PRIVILEGED'], allowed: BOOL_ALLOWED, example: 'false',
    byDefault: () => false,
    fromJson: (v, s) => bool(v, s),
    fromText: (t, s) => bool(t, s),
  },
  dockerSocketOverride: {
    key: 'dockerSocketOverride', env: ['SLIPWAY_DOCKER_SOCKET_OVERRIDE', 'TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE'], allowed: SOCKET_ALLOWED,
    example: '"/var/run/docker.sock"',
    byDefault: () => undefined,
    // A path on the engine's host, not this machine's: taken as written, never resolved against a config file's dir.
    fromJson: (v, s) => str(v, s, SOCKET_ALLOWED, (x) => x.startsWith('/') && !x.includes('\0') && !x.includes(':')),
    fromText: (t, s) => (t.trim() === '' ? undefined : str(t, s, SOCKET_ALLOWED, (x) => x.startsWith('/') && !x.includes('\0') && !x.includes(':'))),
  },
  networkPool: {
    key: 'networkPool', env: ['SLIPWAY_NETWORK_POOL'], allowed: BOOL_ALLOWED, example: 'false',
    byDefault: () => true,
    fromJson: (v, s) => bool(v, s),
    fromText: (t, s) => bool(t, s),
  },
};

function reaper(v: unknown, s: ValueSource): ReaperChoice {
  const t = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
  if (t !== undefined && (REAPERS as readonly string[]).includes(t)) return t as ReaperChoice;
  throw invalid(s, v, `${REAPER_ALLOWED} (auto: a reaper container for remote engines only; on: for every engine; off: the local watchdog only)`);
}

/** Milliseconds, or a Go-style duration as Ryuk's variables take (`10s`, `1m30s`, `500ms`). */
function duration(v: unknown, s: ValueSource): number {
  if (typeof v === 'string' && /[a-z]/i.test(v)) {
    const text = v.trim();
    const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let total = 0;
    const rest = text.replace(/(\d+(?:\.\d+)?)(ms|s|m|h)/g, (_, n: string, u: string) => { total += Number(n) * units[u]!; return ''; });
    if (rest !== '' || !(total > 0) || !Number.isFinite(total)) throw invalid(s, v, DURATION_ALLOWED);
    return total;
  }
  return ms(v, s, DURATION_ALLOWED, false);
}

/** Which runtime runs containers: `native`, `engine` (Docker Engine API) or `auto`. */
export type RuntimeChoice = 'native' | 'engine' | 'auto';
const RUNTIMES: readonly RuntimeChoice[] = ['native', 'engine', 'auto'];

function bool(v: unknown, s: ValueSource): boolean {
  if (typeof v === 'boolean') return v;
  const t = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  throw invalid(s, v, BOOL_ALLOWED);
}

function runtime(v: unknown, s: ValueSource): RuntimeChoice {
  if (typeof v === 'string' && (RUNTIMES as readonly string[]).includes(v.trim())) return v.trim() as RuntimeChoice;
  let shown: string;
  try { shown = JSON.stringify(v) ?? String(v); } catch { shown = typeof v; }
  const where = s.origin.startsWith('env ') ? `invalid ${s.keyPath}: ${shown.slice(0, 120)}` : `invalid config file ${s.origin}: ${s.keyPath} is ${shown.slice(0, 120)}`;
  throw new SlipwayError('ERR_CONFIG', `${where}; allowed: "native", "engine" or "auto"`, {
    hint: s.origin.startsWith('env ')
      ? `set ${s.keyPath} to native (user namespaces), engine (a Docker or Podman engine: DOCKER_HOST or its socket) or auto`
      : `set ${s.keyPath} to "native", "engine" or "auto", or remove it from ${s.origin}`,
  });
}

/** The keys a config file may hold (plus `$schema`). */
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The home directory the environment names. */
export function homeOf(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

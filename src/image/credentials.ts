/**
 * Registry credentials from the places Docker and Podman keep them: `$DOCKER_CONFIG/config.json`
 * (or `~/.docker/config.json`: `credHelpers`, `credsStore`, `auths`) and containers `auth.json`
 * (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { logger } from '../internal/debug.js';
import { readInputFile } from '../internal/read-input-file.js';
import { SlipwayError } from '../errors.js';

const debug = logger('image:credentials');

/** Credentials for one registry. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token endpoint. */
  identityToken?: string;
}

/** Looks up credentials for a registry host (`docker.io`, `localhost:5000`). */
export type CredentialResolver = (domain: string) => Promise<RegistryCredentials | undefined>;

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface ConfigFile { auths?: Record<string, AuthEntry>; credHelpers?: Record<string, string>; credsStore?: string }

/** A credential helper's answer is a small JSON object; this much output is a broken or hostile helper. */
const HELPER_OUTPUT_LIMIT = 1 << 20;

const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io'];

/** The keys a config file may use for `domain`. */
function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

async function readJson(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    // A regular file of bounded size: a FIFO would hold the read (and every pull) until a writer came.
    text = await readInputFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'EFBIG') {
      throw new SlipwayError('ERR_REGISTRY_AUTH', `cannot read the credentials file ${file}: ${(e as Error).message}`, {
        hint: 'make it a regular JSON file (or remove it, or point DOCKER_CONFIG elsewhere)', cause: e,
      });
    }
    if (code !== 'ENOENT') debug('cannot read %s: %s', file, (e as Error).message);
    return undefined;
  }
  try {
    return JSON.parse(text) as ConfigFile;
  } catch (e) {
    throw new SlipwayError('ERR_REGISTRY_AUTH', `credentials file ${file} is not valid JSON`, {
      hint: 'fix or remove the file', cause: e,
    });
  }
}

function findKey<T>(map: Record<string, T> | undefined, domain: string): [string, T] | undefined {
  if (!map) return undefined;
  const wanted = domain === 'docker.io' ? HUB_KEYS : [domain, `https://${domain}`, `http://${domain}`];
  for (const k of wanted) if (map[k] !== undefined) return [k, map[k]!];
  for (const [k, v] of Object.entries(map)) {
    const h = keyHost(k);
    if (domain === 'docker.io' ? HUB_KEYS.includes(h) : h === domain) return [k, v];
  }
  return undefined;
}

function decodeEntry(e: AuthEntry): RegistryCredentials | undefined {
  const out: RegistryCredentials = {};
  if (e.auth) {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      out.username = decoded.slice(0, i);
      out.password = decoded.slice(i + 1);
    }
  } else if (e.username) {
    out.username = e.username;
    out.password = e.password ?? '';
  }
  if (e.identitytoken) out.identityToken = e.identitytoken;
  return out.username !== undefined || out.identityToken !== undefined ? out : undefined;
}

/**
 * Runs `docker-credential-<helper> get` with the server URL on stdin, as the docker CLI does.
 * Returns undefined when the helper has no credentials for the server.
 */
export async function runCredentialHelper(helper: string, serverUrl: string): Promise<RegistryCredentials | undefined> {
  const program = `docker-credential-${helper}`;
  const { code, stdout, stderr, spawnError } = await new Promise<{ code: number | null; stdout: string; stderr: string; spawnError?: Error }>((resolve) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    // A helper's answer is a few hundred bytes; one that prints without end is stopped, not held.
    let stopped = false;
    const take = (d: string, to: 'out' | 'err') => {
      if (stopped) return;
      if (out.length + err.length + d.length > HELPER_OUTPUT_LIMIT) {
        err = `printed more than ${HELPER_OUTPUT_LIMIT} bytes; stopped`;
        out = '';
        stopped = true;
        child.kill('SIGKILL');
        return;
      }
      if (to === 'out') out += d;
      else err += d;
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => take(d, 'out'));
    child.stderr.setEncoding('utf8').on('data', (d: string) => take(d, 'err'));
    child.on('error', (e) => resolve({ code: null, stdout: out, stderr: err, spawnError: e }));
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);
  });
  if (spawnError) {
    throw new SlipwayError('ERR_REGISTRY_AUTH', `credential helper ${program} could not be run: ${spawnError.message}`, {
      hint: `install ${program} on PATH or remove it from your Docker config`, cause: spawnError,
    });
  }
  if (code !== 0) {
    const msg = `${stdout}${stderr}`.trim();
    if (/credentials not found/i.test(msg)) return undefined;
    throw new SlipwayError('ERR_REGISTRY_AUTH', `credential helper ${program} failed (exit ${code}): ${msg}`, {
      hint: `run "echo ${serverUrl} | ${program} get" to see what it needs (often a login)`,
    });
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
  } catch (e) {
    throw new SlipwayError('ERR_REGISTRY_AUTH', `credential helper ${program} printed invalid JSON`, { cause: e });
  }
  if (!parsed.Secret && !parsed.Username) return undefined;
  // docker/cli native_store.go: the username "<token>" marks an identity token.
  if (parsed.Username === '<token>') return { identityToken: parsed.Secret ?? '' };
  return { username: parsed.Username ?? '', password: parsed.Secret ?? '' };
}

/** Options for {@link createCredentialResolver}; every path defaults from the environment. */
export interface CredentialSources {
  /** Docker config directory. @defaultValue `$DOCKER_CONFIG` or `~/.docker` */
  dockerConfigDir?: string;
  /** containers auth.json files, in lookup order. @defaultValue `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json` */
  authFiles?: string[];
  /** Registry host → credential helper name (`docker-credential-<name>`), checked before the Docker config (the `credentialHelpers` setting). */
  helpers?: Readonly<Record<string, string>>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Creates a resolver that reads the Docker config (credHelpers, then credsStore, then auths, as docker/cli
 * does), then containers auth.json files. Results are cached per domain for the resolver's lifetime.
 */
export function createCredentialResolver(sources: CredentialSources = {}): CredentialResolver {
  const env = sources.env ?? process.env;
  const home = env.HOME ?? os.homedir();
  const dockerDir = sources.dockerConfigDir ?? env.DOCKER_CONFIG ?? path.join(home, '.docker');
  const authFiles = sources.authFiles ?? [
    ...(env.REGISTRY_AUTH_FILE ? [env.REGISTRY_AUTH_FILE] : []),
    ...(env.XDG_RUNTIME_DIR ? [path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json')] : []),
    path.join(home, '.config', 'containers', 'auth.json'),
  ];
  const cache = new Map<string, Promise<RegistryCredentials | undefined>>();
  const serverUrl = (domain: string): string => (domain === 'docker.io' ? 'https://index.docker.io/v1/' : domain);

  async function resolve(domain: string): Promise<RegistryCredentials | undefined> {
    const configured = findKey(sources.helpers, domain);
    if (configured) {
      debug('%s: credential helper %s (slipway config)', domain, configured[1]);
      return runCredentialHelper(configured[1], serverUrl(domain));
    }
    const docker = await readJson(path.join(dockerDir, 'config.json'));
    if (docker) {
      const helper = findKey(docker.credHelpers, domain);
      if (helper) {
        debug('%s: credential helper %s', domain, helper[1]);
        return runCredentialHelper(helper[1], serverUrl(domain));
      }
      if (docker.credsStore) {
        debug('%s: credsStore %s', domain, docker.credsStore);
        const c = await runCredentialHelper(docker.credsStore, serverUrl(domain));
        if (c) return c;
      }
      const entry = findKey(docker.auths, domain);
      if (entry) {
        const c = decodeEntry(entry[1]);
        if (c) return c;
      }
    }
    for (const file of authFiles) {
      const cfg = await readJson(file);
      if (!cfg) continue;
      const helper = findKey(cfg.credHelpers, domain);
      if (helper) return runCredentialHelper(helper[1], serverUrl(domain));
      const entry = findKey(cfg.auths, domain);
      if (entry) {
        const c = decodeEntry(entry[1]);
        if (c) {
          debug('%s: credentials from %s', domain, file);
          return c;
        }
      }
    }
    return undefined;
  }

  return (domain) => {
    let p = cache.get(domain);
    if (!p) {
      p = resolve(domain);
      cache.set(domain, p);
      p.catch(() => cache.delete(domain));
    }
    return p;
  };
}

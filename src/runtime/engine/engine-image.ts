/**
 * Images for the engine backend: the engine pulls (our credential lookup passed as `X-Registry-Auth`), honouring
 * the pull policy and the Hub prefix setting; `docker-archive:` files are loaded. The engine keeps its own image
 * store: slipway's store and registry mirrors are not used (a difference documented in ARCHITECTURE.md).
 */
import { createReadStream } from 'node:fs';
import { SlipwayError } from '../../errors.js';
import { configValue } from '../../config/index.js';
import { createCredentialResolver } from '../../image/credentials.js';
import { parseReference } from '../../image/reference.js';
import { applyHubPrefix } from '../../image/pull.js';
import { hasStatus, type EngineClient } from '../../engine/client.js';
import { logger } from '../../internal/debug.js';

const log = logger('engine:image');

/** The image config fields the runtime reads. */
export interface EngineImage {
  /** The name containers are created from (what the engine knows it as). */
  name: string;
  config: { Healthcheck?: { Test?: string[]; Interval?: number }; Labels?: Record<string, string> | null; StopSignal?: string; User?: string };
}

/** Makes `ref` present in the engine as the pull policy says; returns its name and config. */
export async function ensureImage(client: EngineClient, ref: string, opts: { policy?: 'missing' | 'always' | 'never'; platform?: string; signal?: AbortSignal }): Promise<EngineImage> {
  if (ref.startsWith('oci-layout:')) {
    throw new SlipwayError('ERR_UNSUPPORTED', `${ref}: OCI layout directories cannot be loaded into a Docker engine`, {
      hint: 'push the image to a registry, use a docker-archive: file, or SLIPWAY_RUNTIME=native',
    });
  }
  if (ref.startsWith('docker-archive:')) return loadArchive(client, ref.slice('docker-archive:'.length), opts.signal);
  // The Hub prefix applies as natively; registry mirrors are the engine's own (its daemon.json `registry-mirrors`).
  const parsed = applyHubPrefix(parseReference(ref), configValue('hubImageNamePrefix'), 'the hubImageNamePrefix setting');
  const name = parsed.digest ? `${parsed.domain}/${parsed.path}@${parsed.digest}` : `${parsed.domain}/${parsed.path}:${parsed.tag ?? 'latest'}`;
  const policy = opts.policy ?? configValue('pullPolicy');
  if (policy !== 'always') {
    const found = await inspect(client, name);
    if (found) return found;
    if (policy === 'never') {
      throw new SlipwayError('ERR_IMAGE_NOT_PRESENT', `${ref} is not in the engine's images and the pull policy is never`, { hint: 'pull it first (docker pull), or use pull policy missing' });
    }
  }
  await pullImage(client, parsed.domain, `${parsed.domain}/${parsed.path}`, parsed.digest ?? parsed.tag ?? 'latest', opts);
  const pulled = await inspect(client, name);
  if (!pulled) throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine pulled ${ref} but does not list it`);
  return pulled;
}

async function inspect(client: EngineClient, name: string): Promise<EngineImage | undefined> {
  try {
    const img = await client.call<{ Config?: EngineImage['config'] }>('GET', `/images/${encodeURIComponent(name)}/json`);
    return { name, config: img.Config ?? {} };
  } catch (err) {
    if (hasStatus(err, 404)) return undefined;
    throw err;
  }
}

async function pullImage(client: EngineClient, domain: string, repo: string, tag: string, opts: { platform?: string; signal?: AbortSignal }): Promise<void> {
  const creds = await createCredentialResolver({ env: process.env, helpers: configValue('credentialHelpers') })(domain).catch(() => undefined);
  const auth = Buffer.from(JSON.stringify(creds?.identityToken ? { identitytoken: creds.identityToken, serveraddress: domain } : { username: creds?.username ?? '', password: creds?.password ?? '', serveraddress: domain })).toString('base64url');
  log('pull %s:%s (credentials: %s)', repo, tag, creds ? 'yes' : 'none');
  const { body } = await client.stream('POST', '/images/create', {
    query: { fromImage: repo, tag, platform: opts.platform }, headers: { 'X-Registry-Auth': auth }, long: true, signal: opts.signal,
  }).catch((err: unknown) => { throw pullError(`${repo}:${tag}`, err); });
  // Progress is JSON lines; a failure is a line with `error` (the status stays 200).
  let rest = '';
  for await (const chunk of body) {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let msg: { error?: string };
      try { msg = JSON.parse(line) as { error?: string }; } catch { continue; }
      if (msg.error) throw pullError(`${repo}:${tag}`, new Error(msg.error));
    }
  }
}

function pullError(ref: string, err: unknown): SlipwayError {
  const text = (err as Error).message;
  if (/not found|manifest unknown|does not exist|404/i.test(text)) return new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine could not find ${ref}: ${text}`, { cause: err, hint: 'check the name and tag' });
  if (/unauthorized|authentication|denied/i.test(text)) return new SlipwayError('ERR_REGISTRY_AUTH', `the registry refused the engine's pull of ${ref}: ${text}`, { cause: err, hint: 'docker login, or a credential helper in ~/.docker/config.json' });
  return new SlipwayError('ERR_REGISTRY', `the engine could not pull ${ref}: ${text}`, { cause: err });
}

async function loadArchive(client: EngineClient, file: string, signal?: AbortSignal): Promise<EngineImage> {
  const { body } = await client.stream('POST', '/images/load', { query: { quiet: 1 }, rawBody: createReadStream(file), headers: { 'content-type': 'application/x-tar' }, long: true, signal });
  const text = (await body.toArray()).map(String).join('');
  const m = /Loaded image(?: ID)?: ([^\s"\\]+)/.exec(text);
  if (!m) throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine loaded ${file} but named no image: ${text.slice(0, 300)}`);
  const found = await inspect(client, m[1]!);
  if (!found) throw new SlipwayError('ERR_IMAGE_NOT_FOUND', `the engine loaded ${m[1]} from ${file} but does not list it`);
  return found;
}

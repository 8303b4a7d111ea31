/**
 * Builds on the engine backend: the engine's own builder (`POST /build`, the classic builder's API, which Docker and
 * Podman both serve) fed the context as a tar that the caller made (build/context-tar.ts: `.dockerignore` applied,
 * the Dockerfile always sent). The image lands in the engine's store, where its containers start from.
 */
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../errors.js';
import type { EngineClient } from '../../engine/client.js';
import { logger } from '../../internal/debug.js';
import { engineAuthConfig } from './engine-image.js';

const log = logger('engine:build');

/** What a build on the engine needs: the context as a tar and `docker build`'s options. */
export interface EngineBuildRequest {
  /** The context as an uncompressed tar stream. */
  context: Readable;
  /** The Dockerfile's path inside the context (posix). */
  dockerfile: string;
  /** The tag of the result (`name[:tag]`); else `localhost/slipway-build:<id prefix>`, as natively. */
  tag?: string;
  buildArgs?: Readonly<Record<string, string>>;
  target?: string;
  platform?: string;
  /** `false`: no cached steps (`--no-cache`). */
  cache?: boolean;
  /** `always`: FROM images pulled again (`--pull`). */
  pullPolicy?: 'always' | 'missing' | 'never';
  /** Registries the build pulls from (its FROM images' domains): our credentials for them go as `X-Registry-Config`. */
  registries?: readonly string[];
  /** The builder's progress: each `Step n/m` it starts, whether it was cached, the lines a step printed, its end. */
  onEvent?: (e: EngineBuildEvent) => void;
  signal?: AbortSignal;
}

/**
 * What the classic builder reports, step by step (`n` counts every instruction of the Dockerfile, global ARGs too,
 * as its `Step n/m :` lines do): `start`, then `cached` when it was reused, `output` lines, `end` when the next step
 * starts or the build ends.
 */
export type EngineBuildEvent =
  | { type: 'start'; n: number; instruction: string }
  | { type: 'cached'; n: number }
  | { type: 'output'; n: number; line: string }
  | { type: 'end'; n: number };

/** A finished build on the engine: the reference it is tagged as and the engine's image id (`sha256:…`). */
export interface EngineBuildResult {
  ref: string;
  id: string;
}

/** The builder's own lines between a step's output: `---> Running in`, `---> <id>`, removals, the final summary. */
const CHATTER = /^( ---> |Removing intermediate container |Successfully (built|tagged) |\[Warning\] One or more build-args)/;

/** One line of the engine's build stream. */
interface BuildStreamLine {
  stream?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

/**
 * Sends the context to the engine's builder and waits for the image; returns the reference it is tagged as.
 * @throws SlipwayError `ERR_BUILD_STEP_FAILED` (a RUN returned non-zero: its output's last lines in the message),
 *   `ERR_BUILD` (any other refusal of the engine's builder: the engine's message), `ERR_RUNTIME_UNAVAILABLE`.
 */
export async function buildOnEngineClient(client: EngineClient, req: EngineBuildRequest): Promise<EngineBuildResult> {
  const registryConfig = await registryConfigHeader(req.registries ?? []);
  const { body } = await client.stream('POST', '/build', {
    query: {
      dockerfile: req.dockerfile,
      t: req.tag,
      target: req.target,
      platform: req.platform,
      buildargs: req.buildArgs && Object.keys(req.buildArgs).length ? JSON.stringify(req.buildArgs) : undefined,
      nocache: req.cache === false ? 1 : undefined,
      pull: req.pullPolicy === 'always' ? 1 : undefined,
      // Intermediate containers go whether a step fails or not (docker build's default keeps a failed one).
      rm: 1, forcerm: 1,
    },
    rawBody: req.context, headers: { 'content-type': 'application/x-tar', ...registryConfig }, long: true, signal: req.signal,
  }).catch((err: unknown) => { throw buildError(err instanceof Error ? err.message : String(err), [], err); });
  const tail: string[] = [];
  let id: string | undefined;
  let rest = '';
  let step = 0;
  let built: string | undefined;
  const event = (e: EngineBuildEvent): void => req.onEvent?.(e);
  const take = (raw: string): void => {
    if (!raw.trim()) return;
    let line: BuildStreamLine;
    try {
      line = JSON.parse(raw) as BuildStreamLine;
    } catch {
      return;
    }
    if (line.error !== undefined || line.errorDetail !== undefined) throw buildError(line.errorDetail?.message ?? line.error ?? 'the build failed', tail, undefined, step);
    if (line.aux?.ID) id = line.aux.ID;
    // A step's stderr comes wrapped in ESC[91m … ESC[0m.
    for (const l of (line.stream ?? '').replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
      if (!l.trim()) continue;
      const start = /^Step (\d+)\/\d+ : (.*)$/.exec(l);
      if (start) {
        if (step) event({ type: 'end', n: step });
        step = Number(start[1]);
        tail.length = 0;
        event({ type: 'start', n: step, instruction: start[2]! });
        continue;
      }
      if (/^ ---> Using cache$/.test(l)) event({ type: 'cached', n: step });
      built = /^Successfully built ([0-9a-f]{12,64})$/.exec(l.trim())?.[1] ?? built;
      if (CHATTER.test(l)) continue;
      tail.push(l);
      if (tail.length > 20) tail.shift();
      event({ type: 'output', n: step, line: l });
    }
  };
  for await (const chunk of body) {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) take(l);
  }
  take(rest);
  if (step) event({ type: 'end', n: step });
  // The classic builder reports the id as aux (API ≥ 1.30) and as "Successfully built <id>".
  id ??= built;
  if (!id) throw buildError('the engine ended the build without naming an image', tail);
  if (!id.startsWith('sha256:')) id = (await client.call<{ Id: string }>('GET', `/images/${encodeURIComponent(id)}/json`)).Id;
  if (req.tag) return { ref: req.tag, id };
  const hex = id.replace(/^sha256:/, '');
  const ref = `localhost/slipway-build:${hex.slice(0, 12)}`;
  await client.call('POST', `/images/${encodeURIComponent(id)}/tag`, { query: { repo: 'localhost/slipway-build', tag: hex.slice(0, 12) } });
  log('built %s (%s)', ref, id);
  return { ref, id };
}

/**
 * `X-Registry-Config` as the docker CLI sends it: a JSON map from registry to auth config, base64url (padded). Docker
 * Hub's key is its index address. Only registries we hold credentials for; none: no header (the engine's own apply).
 */
async function registryConfigHeader(registries: readonly string[]): Promise<Record<string, string>> {
  const map: Record<string, Record<string, string>> = {};
  for (const domain of new Set(registries)) {
    const { found, auth } = await engineAuthConfig(domain);
    if (found) map[domain === 'docker.io' ? 'https://index.docker.io/v1/' : domain] = auth;
  }
  log('registry credentials for %s', Object.keys(map).join(', ') || 'none');
  if (!Object.keys(map).length) return {};
  return { 'X-Registry-Config': Buffer.from(JSON.stringify(map)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_') };
}

/** Which `Step n` a build error of the engine came from (and a RUN's exit code): the caller names its Dockerfile line. */
const failedSteps = new WeakMap<SlipwayError, { n: number; exitCode?: number }>();

/** The step (and a RUN's exit code) a `buildOnEngineClient` error came from; undefined for other errors. */
export function failedEngineStep(err: unknown): { n: number; exitCode?: number } | undefined {
  return err instanceof SlipwayError ? failedSteps.get(err) : undefined;
}

function buildError(message: string, tail: readonly string[], cause?: unknown, step = 0): SlipwayError {
  const details = tail.length ? `last output lines:\n${tail.slice(-20).join('\n')}` : undefined;
  const code = /returned a non-zero code: (\d+)/.exec(message);
  if (code) {
    const err = new SlipwayError('ERR_BUILD_STEP_FAILED', `the engine's build failed: ${message}`, {
      hint: 'fix the command; the output above shows why it failed', cause, details,
    });
    failedSteps.set(err, { n: step, exitCode: Number(code[1]) });
    return err;
  }
  // A FROM image the registry would not give without (other) credentials: as the native pull says it.
  if (/no basic auth credentials|unauthorized|authentication required/i.test(message)) {
    const err = new SlipwayError('ERR_REGISTRY_AUTH', `the engine's build failed: ${message}`, {
      hint: 'log in to the registry (docker login, or credentials in the Docker config / a credential helper): they are sent with the build', cause, details,
    });
    failedSteps.set(err, { n: step });
    return err;
  }
  // The classic builder's words for a COPY/ADD source that is outside the context, absent or ignored.
  if (/forbidden path outside the build context|not found in build context|no source files were specified|is outside of /i.test(message)) {
    const err = new SlipwayError('ERR_BUILD_CONTEXT', `the engine's build failed: ${message}`, {
      hint: 'COPY and ADD take files inside the context (after .dockerignore); a symlink out of it is not followed', cause, details,
    });
    failedSteps.set(err, { n: step });
    return err;
  }
  const err = new SlipwayError('ERR_BUILD', `the engine's build failed: ${message}`, {
    hint: 'the engine\'s builder refused the Dockerfile or the context (its message above)', cause, details,
  });
  failedSteps.set(err, { n: step });
  return err;
}

/**
 * Builds on the engine backend: the engine's own builder (`POST /build`, the classic builder's API, which Docker and
 * Podman both serve) fed the context as a tar that the caller made (build/context-tar.ts: `.dockerignore` applied,
 * the Dockerfile always sent). The image lands in the engine's store, where its containers start from. On Docker the
 * caller asks for BuildKit (`version=2`, the default there): its progress arrives as `moby.buildkit.trace` messages
 * (`build-progress-buildkit.ts`) and secrets through a session (engine/buildkit-session.ts); the classic builder's
 * `Step n/m` lines are decoded by `build-progress-classic.ts`.
 */
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../errors.js';
import { EngineHttpError, compareApi, type EngineClient, type EngineInfo, type EngineKind } from '../../engine/client.js';
import { forEachLine } from '../../engine/lines.js';
import { openBuildSession, type BuildSession, type CredentialLookup } from '../../engine/buildkit-session.js';
import { logger } from '../../internal/debug.js';
import { engineAuthConfig } from './engine-image.js';
import type { BuildProgressDecoder, BuildStreamLine, EngineBuildEvent, EngineStepRef } from './build-progress.js';
import { TraceSteps } from './build-progress-buildkit.js';
import { ClassicSteps } from './build-progress-classic.js';

export type { EngineBuildEvent, EngineStepRef } from './build-progress.js';

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
  /** Docker's BuildKit (`version=2`) instead of the classic builder: for the Dockerfile syntax only it has. */
  buildKit?: boolean;
  /** Build secrets by id, served to BuildKit through a session (requires `buildKit`); held in memory only. */
  secrets?: ReadonlyMap<string, Buffer>;
  /** The builder's progress: each `Step n/m` it starts, whether it was cached, the lines a step printed, its end. */
  onEvent?: (e: EngineBuildEvent) => void;
  signal?: AbortSignal;
}

/** A finished build on the engine: the reference it is tagged as and the engine's image id (`sha256:…`). */
export interface EngineBuildResult {
  ref: string;
  id: string;
  /** Whether BuildKit built it (else the classic builder: Podman's, or a Docker that refused BuildKit). */
  buildKit: boolean;
}

/**
 * Whether the engine's `POST /build` may be asked for BuildKit (`version=2`): Docker from API 1.39 (18.09, which added
 * `/session`) on Linux (Windows daemons have none); Podman's `POST /build` is buildah and takes neither `version=2` nor
 * `/session`. An engine that is neither (kubedock…) is asked only for what the classic builder cannot do.
 */
export function buildKitServed(info: Pick<EngineInfo, 'kind' | 'api' | 'os'>): boolean {
  return info.kind !== 'podman' && compareApi(info.api, '1.39') >= 0 && info.os !== 'windows';
}

/** What the engine's builder offers a build request: BuildKit ({@link buildKitServed}), and which engine builds. */
export interface EngineBuilderKind {
  buildKit: boolean;
  /** Which engine builds (`GET /version`): Podman's builder is buildah, which has the syntax Docker's classic builder lacks. */
  kind: EngineKind;
}

/**
 * A build with the engine's builder: `request` makes the build request for what the engine offers (BuildKit where
 * {@link buildKitServed}); when the engine refuses BuildKit ({@link buildKitRefused}) the request is made again without
 * it and the classic builder builds (what the Dockerfile needs of BuildKit is then refused by `request`).
 */
export async function buildWithEngineBuilder(client: EngineClient, request: (builder: EngineBuilderKind) => Promise<EngineBuildRequest>): Promise<EngineBuildResult> {
  const info = await client.info();
  const first = await request({ buildKit: buildKitServed(info), kind: info.kind });
  try {
    return await buildOnEngineClient(client, first);
  } catch (err) {
    if (!first.buildKit || !buildKitRefused(err)) throw err;
    first.context.destroy();
    log('the engine refused BuildKit (%s): the classic builder builds', (err as Error).message);
    return await buildOnEngineClient(client, await request({ buildKit: false, kind: info.kind }));
  }
}

/** Session refusals: the engine answered `POST /session` with an error status (no BuildKit sessions there). */
const sessionRefusals = new WeakSet<object>();

/**
 * Whether a build failed because the engine would not run BuildKit at all (a daemon built or configured without it
 * answers `version=2` with an HTTP error naming BuildKit or the builder version before any output, or refuses the
 * session `POST /session` with an error status): the caller then
 * builds again with the classic builder. A failure inside a BuildKit build (a step, the context, a FROM image) is not.
 */
export function buildKitRefused(err: unknown): boolean {
  if (typeof err === 'object' && err !== null && sessionRefusals.has(err)) return true;
  for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof EngineHttpError) return e.status >= 400 && /buildkit|builder version|invalid version/i.test(e.message);
  }
  return false;
}

/**
 * Sends the context to the engine's builder and waits for the image; returns the reference it is tagged as.
 * @throws SlipwayError `ERR_BUILD_STEP_FAILED` (a RUN returned non-zero: its output's last lines in the message),
 *   `ERR_BUILD` (any other refusal of the engine's builder: the engine's message), `ERR_RUNTIME_UNAVAILABLE`.
 */
export async function buildOnEngineClient(client: EngineClient, req: EngineBuildRequest): Promise<EngineBuildResult> {
  const registryConfig = await registryConfigHeader(req.registries ?? []);
  // A BuildKit build has a session, as the docker CLI's: it serves the secrets and the FROM registries' credentials
  // (BuildKit asks the session, not X-Registry-Config) for as long as the build runs; the build request names it.
  const session = req.buildKit
    ? await openBuildSession(client, req.secrets ?? new Map(), sessionCredentials(req.registries ?? [])).catch((err: unknown) => {
      const refused = [err, (err as { cause?: unknown } | undefined)?.cause].some((e) => e instanceof EngineHttpError);
      const e = new SlipwayError('ERR_RUNTIME', `the engine refused a BuildKit session: ${err instanceof Error ? err.message : String(err)}`, {
        hint: 'an engine without BuildKit sessions (Docker before 18.09, or BuildKit disabled) builds with its classic builder', cause: err,
      });
      if (refused) sessionRefusals.add(e);
      throw e;
    })
    : undefined;
  try {
    return await buildOnEngineWith(client, req, registryConfig, session);
  } finally {
    session?.close();
  }
}

async function buildOnEngineWith(client: EngineClient, req: EngineBuildRequest, registryConfig: Record<string, string>, session: BuildSession | undefined): Promise<EngineBuildResult> {
  const { body } = await client.stream('POST', '/build', {
    query: {
      version: req.buildKit ? '2' : undefined,
      session: session?.id,
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
  let id: string | undefined;
  const event = (e: EngineBuildEvent): void => req.onEvent?.(e);
  const progress: BuildProgressDecoder = req.buildKit ? new TraceSteps(event) : new ClassicSteps(event);
  const take = (raw: string): void => {
    if (!raw.trim()) return;
    let line: BuildStreamLine;
    try {
      line = JSON.parse(raw) as BuildStreamLine;
    } catch {
      return;
    }
    if (line.error !== undefined || line.errorDetail !== undefined) {
      const message = line.errorDetail?.message ?? line.error ?? 'the build failed';
      const failed = progress.failed();
      throw buildError(message, failed?.tail ?? [], undefined, failed?.at);
    }
    if (typeof line.aux === 'object' && line.aux.ID) id = line.aux.ID;
    progress.take(line);
  };
  await forEachLine(body, take);
  progress.finish();
  // The classic builder reports the id as aux (API ≥ 1.30) and as "Successfully built <id>".
  id ??= progress.printedId;
  if (!id) throw buildError('the engine ended the build without naming an image', progress.failed()?.tail ?? []);
  if (!id.startsWith('sha256:')) id = (await client.call<{ Id: string }>('GET', `/images/${encodeURIComponent(id)}/json`)).Id;
  const buildKit = req.buildKit === true;
  if (req.tag) return { ref: req.tag, id, buildKit };
  const hex = id.replace(/^sha256:/, '');
  const ref = `localhost/slipway-build:${hex.slice(0, 12)}`;
  await client.call('POST', `/images/${encodeURIComponent(id)}/tag`, { query: { repo: 'localhost/slipway-build', tag: hex.slice(0, 12) } });
  log('built %s (%s)', ref, id);
  return { ref, id, buildKit };
}

/**
 * Our credentials for BuildKit's `Auth/Credentials` calls, for the registries the Dockerfile's FROM and COPY --from
 * images name only (as `X-Registry-Config`): a host it asks for beyond them gets none. BuildKit names Docker Hub by
 * its registry host.
 */
function sessionCredentials(registries: readonly string[]): CredentialLookup {
  const allowed = new Set(registries);
  return async (host) => {
    const domain = host === 'registry-1.docker.io' || host === 'index.docker.io' ? 'docker.io' : host;
    if (!allowed.has(domain)) return undefined;
    const { found, auth } = await engineAuthConfig(domain);
    if (!found) return undefined;
    return auth.identitytoken ? { username: '', secret: auth.identitytoken } : { username: auth.username ?? '', secret: auth.password ?? '' };
  };
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

/** Which step a build error of the engine came from (and a RUN's exit code): the caller names its Dockerfile line. */
const failedSteps = new WeakMap<SlipwayError, EngineStepRef & { exitCode?: number }>();

/** The step (and a RUN's exit code) a `buildOnEngineClient` error came from; undefined for other errors. */
export function failedEngineStep(err: unknown): (EngineStepRef & { exitCode?: number }) | undefined {
  return err instanceof SlipwayError ? failedSteps.get(err) : undefined;
}

function buildError(message: string, tail: readonly string[], cause?: unknown, step: EngineStepRef = { n: 0 }): SlipwayError {
  const details = tail.length ? `last output lines:\n${tail.slice(-20).join('\n')}` : undefined;
  // The classic builder: "returned a non-zero code: 3"; BuildKit: "executor failed running [/bin/sh -c …]: exit code: 3"
  // (Docker 20.10), "process \"/bin/sh -c …\" did not complete successfully: exit code: 3" (later).
  const code = /returned a non-zero code: (\d+)/.exec(message) ?? /(?:executor failed running|did not complete successfully).*: exit code: (\d+)$/.exec(message);
  if (code) {
    const err = new SlipwayError('ERR_BUILD_STEP_FAILED', `the engine's build failed: ${message}`, {
      hint: 'fix the command; the output above shows why it failed', cause, details,
    });
    failedSteps.set(err, { ...step, exitCode: Number(code[1]) });
    return err;
  }
  // A FROM image the registry would not give without (other) credentials: as the native pull says it.
  if (/no basic auth credentials|unauthorized|authentication required/i.test(message)) {
    const err = new SlipwayError('ERR_REGISTRY_AUTH', `the engine's build failed: ${message}`, {
      hint: 'log in to the registry (docker login, or credentials in the Docker config / a credential helper): they are sent with the build', cause, details,
    });
    failedSteps.set(err, step);
    return err;
  }
  // The classic builder's words for a COPY/ADD source that is outside the context, absent or ignored; BuildKit's
  // ("failed to compute cache key: \"/x\" not found: not found", "…: failed to walk <dir>: lstat …: no such file or directory").
  if (/forbidden path outside the build context|not found in build context|no source files were specified|is outside of |failed to compute cache key: .*(not found|no such file or directory)/i.test(message)) {
    const err = new SlipwayError('ERR_BUILD_CONTEXT', `the engine's build failed: ${message}`, {
      hint: 'COPY and ADD take files inside the context (after .dockerignore); a symlink out of it is not followed', cause, details,
    });
    failedSteps.set(err, step);
    return err;
  }
  const err = new SlipwayError('ERR_BUILD', `the engine's build failed: ${message}`, {
    hint: 'the engine\'s builder refused the Dockerfile or the context (its message above)', cause, details,
  });
  failedSteps.set(err, step);
  return err;
}

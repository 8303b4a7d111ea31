/**
 * Builds on the engine backend: the engine's own builder (`POST /build`, the classic builder's API, which Docker and
 * Podman both serve) fed the context as a tar that the caller made (build/context-tar.ts: `.dockerignore` applied,
 * the Dockerfile always sent). The image lands in the engine's store, where its containers start from. On Docker the
 * caller may ask for BuildKit (`version=2`: RUN --mount, COPY --chmod, build secrets): its progress arrives as
 * `moby.buildkit.trace` messages (engine/buildkit-trace.ts) and secrets through a session (engine/buildkit-session.ts).
 */
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../errors.js';
import type { EngineClient } from '../../engine/client.js';
import { openBuildSession, type BuildSession } from '../../engine/buildkit-session.js';
import { decodeTrace, dockerfileStep } from '../../engine/buildkit-trace.js';
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
  /** Docker's BuildKit (`version=2`) instead of the classic builder: for the Dockerfile syntax only it has. */
  buildKit?: boolean;
  /** Build secrets by id, served to BuildKit through a session (requires `buildKit`); held in memory only. */
  secrets?: ReadonlyMap<string, Buffer>;
  /** The builder's progress: each `Step n/m` it starts, whether it was cached, the lines a step printed, its end. */
  onEvent?: (e: EngineBuildEvent) => void;
  signal?: AbortSignal;
}

/**
 * Where a step of the engine's build sits: the classic builder counts every instruction of the Dockerfile, global
 * ARGs too (`n`, as its `Step n/m :` lines do); BuildKit names the stage (its `AS` name, or `stage-<index>`; absent
 * for a single stage in some versions) and the step within it, FROM being 1 (`n` is then 0).
 */
export interface EngineStepRef {
  n: number;
  stage?: string;
  /** The step within its stage (BuildKit only). */
  step?: number;
}

/**
 * What the engine's builder reports, step by step: `start`, then `cached` when it was reused, `output` lines, `end`.
 * The classic builder runs one step at a time; BuildKit's steps of different stages interleave.
 */
export type EngineBuildEvent = EngineStepRef & (
  | { type: 'start'; instruction: string }
  | { type: 'cached' }
  | { type: 'output'; line: string; stream?: 'stdout' | 'stderr' }
  | { type: 'end' });

/** A finished build on the engine: the reference it is tagged as and the engine's image id (`sha256:…`). */
export interface EngineBuildResult {
  ref: string;
  id: string;
}

/** The builder's own lines between a step's output: `---> Running in`, `---> <id>`, removals, the final summary. */
const CHATTER = /^( ---> |Removing intermediate container |Successfully (built|tagged) |\[Warning\] One or more build-args)/;

/** One line of the engine's build stream. */
interface BuildStreamLine {
  id?: string;
  stream?: string;
  aux?: { ID?: string } | string;
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
  // The session serves the secrets for as long as the build runs; the build request names it.
  const session = req.buildKit && req.secrets?.size ? await openBuildSession(client, req.secrets) : undefined;
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
  const tail: string[] = [];
  let id: string | undefined;
  let rest = '';
  let step = 0;
  let built: string | undefined;
  const event = (e: EngineBuildEvent): void => req.onEvent?.(e);
  const trace = new TraceSteps(event);
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
      const failed = trace.failed();
      throw failed ? buildError(message, failed.tail, undefined, failed.at) : buildError(message, tail, undefined, { n: step });
    }
    if (line.id === 'moby.buildkit.trace' && typeof line.aux === 'string') {
      trace.take(line.aux);
      return;
    }
    if (typeof line.aux === 'object' && line.aux.ID) id = line.aux.ID;
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
  trace.finish();
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

/**
 * BuildKit's trace turned into step events: a vertex the Dockerfile frontend named after a step (`[stage 2/4] RUN …`)
 * starts, is cached, prints (lines per vertex and stream), completes or fails; its own vertexes (`[internal] …`,
 * exporting) are not steps.
 */
class TraceSteps {
  readonly #vertexes = new Map<string, { at: EngineStepRef; started: boolean; cached: boolean; ended: boolean; partial: Map<number, string>; tail: string[]; error?: string }>();
  #failed: { at: EngineStepRef; tail: string[]; canceled: boolean } | undefined;

  constructor(readonly event: (e: EngineBuildEvent) => void) {}

  take(aux: string): void {
    const status = decodeTrace(aux);
    for (const v of status.vertexes) {
      let s = this.#vertexes.get(v.digest);
      if (!s) {
        const at = dockerfileStep(v.name);
        if (!at) continue;
        s = { at: { n: 0, stage: at.stage, step: at.step }, started: false, cached: false, ended: false, partial: new Map(), tail: [] };
        this.#vertexes.set(v.digest, s);
      }
      if ((v.started || v.cached) && !s.started) {
        s.started = true;
        log('step %s', v.name);
        this.event({ ...s.at, type: 'start', instruction: v.name.slice(v.name.indexOf('] ') + 2) });
      }
      if (v.cached && !s.cached) {
        s.cached = true;
        this.event({ ...s.at, type: 'cached' });
      }
      // Steps of other stages that BuildKit stopped because one failed end with "context canceled": not the cause.
      if (v.error && (!this.#failed || this.#failed.canceled)) this.#failed = { at: s.at, tail: s.tail, canceled: /context canceled/.test(v.error) };
      if (v.completed && !s.ended) this.#end(s);
    }
    for (const l of status.logs) {
      const s = this.#vertexes.get(l.vertex);
      if (!s) continue;
      const lines = ((s.partial.get(l.stream) ?? '') + l.data.toString()).split('\n');
      s.partial.set(l.stream, lines.pop()!);
      for (const line of lines) this.#line(s, line, l.stream);
    }
  }

  /** The step whose failure ended the build, with its last output lines. */
  failed(): { at: EngineStepRef; tail: string[] } | undefined {
    for (const s of this.#vertexes.values()) if (!s.ended) this.#flush(s);
    return this.#failed;
  }

  finish(): void {
    for (const s of this.#vertexes.values()) if (s.started && !s.ended) this.#end(s);
  }

  #end(s: { at: EngineStepRef; ended: boolean; partial: Map<number, string>; tail: string[] }): void {
    this.#flush(s);
    s.ended = true;
    this.event({ ...s.at, type: 'end' });
  }

  #flush(s: { at: EngineStepRef; partial: Map<number, string>; tail: string[] }): void {
    for (const [stream, rest] of s.partial) if (rest) this.#line(s, rest, stream);
    s.partial.clear();
  }

  #line(s: { at: EngineStepRef; tail: string[] }, line: string, stream: number): void {
    s.tail.push(line);
    if (s.tail.length > 20) s.tail.shift();
    this.event({ ...s.at, type: 'output', line, stream: stream === 2 ? 'stderr' : 'stdout' });
  }
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
  // The classic builder's words for a COPY/ADD source that is outside the context, absent or ignored.
  if (/forbidden path outside the build context|not found in build context|no source files were specified|is outside of /i.test(message)) {
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

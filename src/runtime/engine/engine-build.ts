/**
 * Builds on the engine backend: the engine's own builder (`POST /build`, the classic builder's API, which Docker and
 * Podman both serve) fed the context as a tar that the caller made (build/context-tar.ts: `.dockerignore` applied,
 * the Dockerfile always sent). The image lands in the engine's store, where its containers start from.
 */
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../errors.js';
import type { EngineClient } from '../../engine/client.js';
import { logger } from '../../internal/debug.js';

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
  /** Each line the builder prints (its `Step n/m : …` lines and the steps' output). */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

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
export async function buildOnEngineClient(client: EngineClient, req: EngineBuildRequest): Promise<string> {
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
    rawBody: req.context, headers: { 'content-type': 'application/x-tar' }, long: true, signal: req.signal,
  }).catch((err: unknown) => { throw buildError(err instanceof Error ? err.message : String(err), [], err); });
  const tail: string[] = [];
  let id: string | undefined;
  let rest = '';
  const take = (raw: string): void => {
    if (!raw.trim()) return;
    let line: BuildStreamLine;
    try {
      line = JSON.parse(raw) as BuildStreamLine;
    } catch {
      return;
    }
    if (line.error !== undefined || line.errorDetail !== undefined) throw buildError(line.errorDetail?.message ?? line.error ?? 'the build failed', tail);
    if (line.aux?.ID) id = line.aux.ID;
    for (const l of (line.stream ?? '').split('\n')) {
      if (!l.trim()) continue;
      tail.push(l);
      if (tail.length > 20) tail.shift();
      req.onLine?.(l);
    }
  };
  for await (const chunk of body) {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) take(l);
  }
  take(rest);
  // The classic builder reports the id as aux (API ≥ 1.30) and as "Successfully built <id>".
  id ??= tail.map((l) => /^Successfully built ([0-9a-f]{12,64})$/.exec(l.trim())?.[1]).find(Boolean);
  if (!id) throw buildError('the engine ended the build without naming an image', tail);
  if (req.tag) return req.tag;
  const hex = id.replace(/^sha256:/, '');
  const ref = `localhost/slipway-build:${hex.slice(0, 12)}`;
  await client.call('POST', `/images/${encodeURIComponent(id)}/tag`, { query: { repo: 'localhost/slipway-build', tag: hex.slice(0, 12) } });
  log('built %s (%s)', ref, id);
  return ref;
}

function buildError(message: string, tail: readonly string[], cause?: unknown): SlipwayError {
  const details = tail.length ? `the builder's last lines:\n${tail.slice(-10).join('\n')}` : undefined;
  if (/returned a non-zero code/.test(message)) {
    return new SlipwayError('ERR_BUILD_STEP_FAILED', `the engine's build failed: ${message}`, {
      hint: 'a RUN step exited non-zero; its output is in the details', cause, details,
    });
  }
  return new SlipwayError('ERR_BUILD', `the engine's build failed: ${message}`, {
    hint: 'the engine\'s builder refused the Dockerfile or the context (its message above)', cause, details,
  });
}

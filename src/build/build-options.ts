/** The options, progress events and result of a Dockerfile build, shared by the builder and the engine's build. */
import type { PullPolicy } from '../image/pull.js';
import type { BuildSecret } from './run-mounts.js';

/**
 * A build event for progress displays: `step` when a step starts (`cached`: it was reused and is already done), `done`
 * when a step that ran finishes, `output` for each line a RUN prints.
 * @example
 * import { Container, type BuildProgress } from 'slipway';
 * const show = (e: BuildProgress) => {
 *   if (e.type === 'step') console.log(`[${e.stage}] ${e.step}/${e.total} ${e.instruction}${e.cached ? ' (cached)' : ''}`);
 *   else if (e.type === 'done') console.log(`[${e.stage}] ${e.step}/${e.total} done in ${e.durationMs} ms`);
 *   else process.stdout.write(`${e.line}\n`);
 * };
 * const image = await Container.fromDockerfile('./app', { onProgress: show });
 */
export type BuildProgress =
  | { type: 'step'; stage: string; step: number; total: number; instruction: string; cached: boolean }
  | { type: 'done'; stage: string; step: number; total: number; instruction: string; durationMs: number }
  | { type: 'output'; stage: string; step: number; line: string; stream: 'stdout' | 'stderr' };

/**
 * Options of a build (see `Container.fromDockerfile`).
 * @example
 * import { Container, type BuildOptions } from 'slipway';
 * const options: BuildOptions = { dockerfile: 'docker/Dockerfile.test', target: 'test', tag: 'localhost/app:test', pullPolicy: 'missing' };
 * const image = await Container.fromDockerfile('.', options);
 */
export interface BuildOptions {
  /** The Dockerfile, relative to the context (or absolute). @defaultValue `'Dockerfile'` */
  dockerfile?: string;
  /** Values for the Dockerfile's ARGs (`--build-arg`). */
  buildArgs?: Readonly<Record<string, string>>;
  /** The stage to build (`--target`); stages it does not need are skipped. @defaultValue the last stage */
  target?: string;
  /** Reuse and record cached steps. @defaultValue true */
  cache?: boolean;
  /** Tag for the result (`name[:tag]`). @defaultValue `localhost/slipway-build:<config digest prefix>` */
  tag?: string;
  /**
   * The platform to build for (`--platform`, `os/arch[/variant]`): FROM images without `--platform` are pulled for it,
   * the image records it, and `TARGETPLATFORM`/`TARGETOS`/`TARGETARCH`/`TARGETVARIANT` name it. slipway does not
   * emulate other CPUs: a RUN in a stage whose platform this machine cannot execute fails (COPY-only stages work;
   * use `FROM --platform=$BUILDPLATFORM` for stages that run tools). @defaultValue this machine's platform
   */
  platform?: string;
  /** Pull policy for FROM images. @defaultValue the `pullPolicy` setting, else `'missing'` */
  pullPolicy?: PullPolicy;
  /**
   * Secrets for `RUN --mount=type=secret,id=<id>` (`docker build --secret`): each from a file or an environment
   * variable of this process. A secret is visible only while the RUN that mounts it runs (a read-only file, by default
   * `/run/secrets/<id>`, or a variable with `env=`); it never reaches a layer, the image or the cache record, and
   * changing its value does not invalidate cached steps (as in BuildKit).
   */
  secrets?: Readonly<Record<string, BuildSecret>>;
  onProgress?: (e: BuildProgress) => void;
  signal?: AbortSignal;
  /** Store root. @defaultValue the `storeDir` setting (`$SLIPWAY_CACHE_DIR`, a config file), else `~/.cache/slipway` */
  storeDir?: string;
}

/** The outcome of a build. */
export interface BuildResult {
  /** The normalized reference the image is tagged as. */
  ref: string;
  /** The image's manifest digest. */
  digest: string;
  configDigest: string;
  /** Steps reused from the cache, and steps run. */
  cached: number;
  executed: number;
}

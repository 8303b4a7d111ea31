/**
 * `commit()`: a container's changes as one more layer on top of its image's layers, with the config Docker's commit
 * records (the container's Env/Cmd/Entrypoint/User/WorkingDir/ExposedPorts/Labels, then `changes`), tagged in the
 * store like a built image, so `new Container(tag)` starts it without a registry.
 *
 * A running container is not paused: freezing its cgroup is not possible rootless without a delegated cgroup, and
 * the upper dir is read without following links (so a hostile container cannot make the commit read a host file).
 * Files it writes during the commit may be caught half-written; stop it first for a consistent image.
 */
import { rm } from 'node:fs/promises';
import { loadConfig } from '../config/index.js';
import { chainIds } from '../image/manifest.js';
import { EPOCH, storedConfigFile, storedLayer, storeLayerTar, writeLocalImage, type FullConfig, type HistoryEntry } from '../image/local-image.js';
import { ImageStore } from '../image/store.js';
import { layerOwnership, type RuntimeContainer } from '../runtime/index.js';
import { applyHubPrefix } from '../image/pull.js';
import { parseReference, type ImageReference } from '../image/reference.js';
import { SlipwayError } from '../errors.js';
import { applyConfigChanges } from './builder.js';

/** What {@link commitContainer} needs. */
export interface CommitSpec {
  container: RuntimeContainer;
  /** What the container was started with over its image's config (Docker's `docker run` rules apply). */
  run: ContainerRunConfig;
  /** `name[:tag]`. @defaultValue `localhost/slipway-commit:<config digest prefix>` */
  tag?: string;
  /** Dockerfile config instructions applied after (`docker commit --change`). */
  changes?: readonly string[];
  author?: string;
  comment?: string;
  storeDir?: string;
}

/** The options a container ran with that a commit records. */
export interface ContainerRunConfig {
  command?: readonly string[];
  entrypoint?: readonly string[];
  env: Readonly<Record<string, string>>;
  user?: string;
  workdir?: string;
  labels: Readonly<Record<string, string>>;
  /** Container ports it published (`80/tcp`). */
  exposedPorts: readonly string[];
}

/** The container's config as Docker's commit records it: the image's, with what the container ran with over it. */
export function runningConfig(image: FullConfig, run: ContainerRunConfig): FullConfig {
  const c: FullConfig = structuredClone(image);
  const env = new Map<string, string>();
  for (const e of c.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const [k, v] of Object.entries(run.env)) env.set(k, v);
  c.Env = [...env].map(([k, v]) => `${k}=${v}`);
  if (run.entrypoint) {
    c.Entrypoint = [...run.entrypoint];
    c.Cmd = run.command ? [...run.command] : null; // docker run --entrypoint resets the image's CMD
  } else if (run.command) {
    c.Cmd = [...run.command];
  }
  if (run.user) c.User = run.user;
  if (run.workdir) c.WorkingDir = run.workdir;
  if (Object.keys(run.labels).length) c.Labels = { ...(c.Labels ?? {}), ...run.labels };
  if (run.exposedPorts.length) c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(run.exposedPorts.map((p) => [p, {}])) };
  return c;
}

/** The committed image. */
export interface CommitResult {
  /** The normalized reference it is tagged as. */
  ref: string;
  /** Its manifest digest. */
  digest: string;
}

/**
 * Commits a container (see the module comment).
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` (bad tag or change), `ERR_STORE` (a file of the change is unreadable)
 */
export async function commitContainer(spec: CommitSpec): Promise<CommitResult> {
  if (spec.container.commitInEngine) return commitInEngine(spec, spec.container.commitInEngine.bind(spec.container));
  const storeDir = spec.storeDir ?? loadConfig().values.storeDir;
  const store = new ImageStore(storeDir);
  await store.init();
  const image = spec.container.resolvedImage;
  const base = await storedConfigFile(store, image);
  const config = applyConfigChanges(runningConfig(base?.config ?? image.config, spec.run), spec.changes ?? []);
  const own = await layerOwnership();
  const history: HistoryEntry[] = [...(base?.history ?? [])];
  let layers = image.layers;
  const entry = (empty: boolean): HistoryEntry => ({
    created: EPOCH, created_by: 'commit', ...(spec.comment ? { comment: spec.comment } : {}), ...(spec.author ? { author: spec.author } : {}), ...(empty ? { empty_layer: true } : {}),
  });
  const tar = store.tempPath('commit_layer');
  try {
    const diff = await spec.container.diffUpper(tar);
    if (diff.entries === 0) {
      history.push(entry(true));
    } else {
      const chainId = chainIds([...layers.map((l) => l.diffId), diff.diffId]).pop()!;
      await storeLayerTar(store, tar, diff, chainId, own);
      layers = [...layers, storedLayer(store, own.mappingKey, diff.diffId, diff.size, chainId)];
      history.push(entry(false));
    }
  } finally {
    await rm(tar, { force: true });
  }
  const { ref, digest } = await writeLocalImage(store, {
    platform: image.platform, config, layers, history, tag: spec.tag, defaultName: 'localhost/slipway-commit', storeDir, author: spec.author,
  });
  return { ref, digest };
}

/**
 * On an engine the engine commits (its image store holds the images a later start runs): the changes and the tag are
 * checked as natively first; the tag is the engine's name for it after the Hub prefix, as a later start resolves it.
 * The returned digest is the engine's image id (its config digest: the engine makes a manifest only when it pushes).
 */
async function commitInEngine(spec: CommitSpec, commit: NonNullable<RuntimeContainer['commitInEngine']>): Promise<CommitResult> {
  const changes = spec.changes ?? [];
  applyConfigChanges({}, changes);
  const defaultRepo = 'localhost/slipway-commit';
  if (spec.tag === undefined) {
    const r = await commit({ defaultRepo, changes, author: spec.author, comment: spec.comment });
    return { ref: `${r.repo}:${r.tag}`, digest: r.id };
  }
  let parsed: ImageReference;
  try {
    parsed = parseReference(spec.tag);
    if (parsed.digest) throw new Error('a digest names content; a commit makes new content');
  } catch (e) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `cannot tag the image as ${JSON.stringify(spec.tag)}: ${(e as Error).message}`, { hint: 'use name[:tag], e.g. myapp:test', cause: e });
  }
  const config = loadConfig();
  const effective = applyHubPrefix(parsed, config.values.hubImageNamePrefix, config.origins.hubImageNamePrefix);
  const r = await commit({ name: { repo: effective.name, tag: effective.tag ?? 'latest' }, defaultRepo, changes, author: spec.author, comment: spec.comment });
  return { ref: parsed.string, digest: r.id };
}

/**
 * `slipway images` and `slipway prune`: read the store's reference index (`refs/*.json`, one record per
 * reference and platform, written by `pull()`) and remove what no record needs.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageStore, defaultStoreRoot, removeTree } from '../image/store.js';
import { SnapshotStore } from '../image/snapshot-store.js';
import { SlipwayError } from '../errors.js';
import { configValue } from '../config/index.js';
import { parsePlatform, platformString, type Platform } from '../image/platform.js';
import type { ImagesCommand, PruneCommand, RmiCommand, SnapshotsCommand } from './args.js';
import { loadConfig } from '../config/index.js';
import { applyHubPrefix } from '../image/pull.js';
import { parseReference } from '../image/reference.js';
import { write, type CliIO } from './io.js';
import { formatBytes } from './progress.js';

/** One reference record of the store index (the fields the CLI reads). */
export interface StoredImage {
  /**
   * The reference the store is keyed by: after the Hub prefix, never a mirror's (`--pull never <ref>` finds it).
   * Records written before the key was kept fall back to the reference that was asked for.
   */
  ref: string;
  /** The reference actually pulled (after the Hub prefix and mirrors), when known. */
  pulledFrom?: string;
  digest: string;
  manifestDigest: string;
  platform: Platform;
  layers: { digest: string; chainId: string; size: number }[];
  /** The index file. */
  file: string;
}

/** Reads every reference record of the store; unreadable records are skipped. */
export async function listStoredImages(root: string): Promise<StoredImage[]> {
  const dir = path.join(root, 'refs');
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: StoredImage[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    try {
      const rec = JSON.parse(await readFile(path.join(dir, n), 'utf8')) as Omit<StoredImage, 'file'> & { key?: string };
      if (typeof rec.ref !== 'string' || !Array.isArray(rec.layers)) continue;
      // pull() keys a record `<reference after the Hub prefix>|<platform>`.
      const keyed = typeof rec.key === 'string' && rec.key.includes('|') ? rec.key.slice(0, rec.key.lastIndexOf('|')) : rec.ref;
      const { key: _key, ...fields } = rec;
      out.push({ ...fields, ref: keyed, ...(typeof rec.pulledFrom === 'string' ? { pulledFrom: rec.pulledFrom } : {}), file: path.join(dir, n) });
    } catch {
      // a record being replaced or corrupt: pull rewrites it
    }
  }
  return out.sort((a, b) => a.ref.localeCompare(b.ref));
}

/**
 * `images`, `snapshots` and `prune` read and clean slipway's own store, which the engine runtime does not use (its
 * pulls, builds and starts use the engine's images): refused there rather than listing a store no container uses.
 * @throws {@link SlipwayError} `ERR_UNSUPPORTED` when the runtime setting selects an engine
 */
export async function refuseOnEngine(command: 'images' | 'snapshots' | 'prune' | 'rmi', env: NodeJS.ProcessEnv): Promise<void> {
  if (configValue('runtime', env) === 'native') return; // the command's own reading of the settings (no engine probe)
  const { engineRuntimeSelected } = await import('../runtime/index.js');
  if (!(await engineRuntimeSelected())) return;
  const instead = { images: 'docker images', snapshots: 'docker images', prune: 'docker image prune', rmi: 'docker rmi' }[command];
  throw new SlipwayError('ERR_UNSUPPORTED', `slipway ${command} works on slipway's own image store, which the engine runtime does not use (its images are the engine's)`, {
    hint: `use the engine's client (${instead}), or SLIPWAY_RUNTIME=native slipway ${command} for slipway's store`,
  });
}

/** `slipway images`. */
export async function imagesCommand(cmd: ImagesCommand, io: CliIO): Promise<number> {
  const images = await listStoredImages(defaultStoreRoot(io.env));
  if (cmd.json) {
    for (const i of images) {
      await write(io.stdout, `${JSON.stringify({ ref: i.ref, pulledFrom: i.pulledFrom ?? null, platform: platformString(i.platform), digest: i.digest, size: size(i), layers: i.layers.length })}\n`);
    }
    return 0;
  }
  const rows = [['REFERENCE', 'PLATFORM', 'DIGEST', 'SIZE', 'PULLED FROM'], ...images.map((i) => [
    i.ref, platformString(i.platform), i.digest.slice(0, 19), formatBytes(size(i)), i.pulledFrom && i.pulledFrom !== i.ref ? i.pulledFrom : '-',
  ])];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const r of rows) await write(io.stdout, `${r.map((c, col) => (col === r.length - 1 ? c : c.padEnd(widths[col]!))).join('  ')}\n`);
  return 0;
}

function size(i: StoredImage): number {
  return i.layers.reduce((n, l) => n + (l.size || 0), 0);
}

/**
 * `slipway rmi <image…>`: removes the references' records (every platform, or `--platform`'s), as `docker rmi`
 * untags; their layers and blobs go with the next `slipway prune` unless another record names them.
 * @throws SlipwayError `ERR_IMAGE_NOT_PRESENT` for a reference the store does not hold (the others are removed)
 */
export async function rmiCommand(cmd: RmiCommand, io: CliIO): Promise<number> {
  const config = loadConfig({ env: io.env });
  const platform = cmd.platform === undefined ? undefined : platformString(parsePlatform(cmd.platform));
  const store = new ImageStore(defaultStoreRoot(io.env));
  const images = await listStoredImages(store.root);
  const missing: string[] = [];
  let removed = 0;
  for (const ref of cmd.refs) {
    const parsed = parseReference(ref);
    const key = applyHubPrefix(parsed, config.values.hubImageNamePrefix, config.origins.hubImageNamePrefix).string;
    const found = images.filter((i) => i.ref === key && (platform === undefined || platformString(i.platform) === platform));
    if (!found.length) {
      missing.push(parsed.string);
      continue;
    }
    for (const i of found) {
      await rm(i.file, { force: true });
      removed++;
      await write(io.stdout, `Untagged: ${i.ref} (${platformString(i.platform)})\n`);
    }
  }
  // Processes that resolved these names from the store must look again.
  if (removed) await store.bumpGeneration();
  if (missing.length) {
    throw new SlipwayError('ERR_IMAGE_NOT_PRESENT', `no such image in the store at ${store.root}: ${missing.join(', ')}${platform ? ` (${platform})` : ''}`, {
      hint: '`slipway images` lists the references the store holds',
    });
  }
  return 0;
}

/** What prune removes (or would remove). */
export interface PrunePlan {
  refs: string[];
  /** Snapshot records (`snapshots/<mapping>/<key>.json`): incomplete ones, or all with `all`. */
  snapshots: string[];
  layers: string[];
  blobs: string[];
}

/** Works out what `prune` removes: unreferenced layers and blobs (complete snapshots' layers are kept), or everything with `all`. */
export async function planPrune(store: ImageStore, all: boolean): Promise<PrunePlan> {
  const images = await listStoredImages(store.root);
  const chains = new Set<string>();
  const blobs = new Set<string>();
  const snapshots = await new SnapshotStore(store).list();
  if (!all) {
    // A snapshot's layer sits on its image's layers: those stay while the image's reference does (below).
    for (const r of snapshots) if (r.complete) chains.add(r.chainId.replace(/^sha256:/, ''));
    for (const i of images) {
      for (const l of i.layers) {
        chains.add(l.chainId.replace(/^sha256:/, ''));
        blobs.add(l.digest.replace(/^sha256:/, ''));
      }
      for (const d of [i.digest, i.manifestDigest]) if (d) blobs.add(d.replace(/^sha256:/, ''));
      // The config blob is named only in the manifest.
      const manifest = await store.readBlob(i.manifestDigest).catch(() => undefined);
      try {
        const cfg = manifest && (JSON.parse(manifest.toString('utf8')) as { config?: { digest?: string } }).config?.digest;
        if (cfg) blobs.add(cfg.replace(/^sha256:/, ''));
      } catch {
        // not JSON: nothing more to keep
      }
    }
  }
  const layers: string[] = [];
  const layersRoot = path.join(store.root, 'layers');
  for (const mapping of await readdir(layersRoot).catch(() => [] as string[])) {
    for (const hex of await readdir(path.join(layersRoot, mapping)).catch(() => [] as string[])) {
      if (hex.endsWith('.ok')) continue; // a layer's completeness marker goes with its layer
      if (!chains.has(hex)) layers.push(path.join(layersRoot, mapping, hex));
    }
  }
  const blobsRoot = path.join(store.root, 'blobs', 'sha256');
  const blobFiles = (await readdir(blobsRoot).catch(() => [] as string[])).filter((hex) => !blobs.has(hex)).map((hex) => path.join(blobsRoot, hex));
  return { refs: all ? images.map((i) => i.file) : [], snapshots: snapshots.filter((r) => all || !r.complete).map((r) => r.file), layers, blobs: blobFiles };
}

/** `slipway prune [--all] [--dry-run]`. */
export async function pruneCommand(cmd: PruneCommand, io: CliIO): Promise<number> {
  // Rootless, what dead pulls left in tmp/ may belong to subordinate ids: the keeper removes that.
  const rootless = process.getuid?.() !== 0;
  const store = new ImageStore(defaultStoreRoot(io.env), rootless && !cmd.dryRun ? { removeTree: async (p) => (await layerRemover())(p) } : {});
  await store.init(); // also sweeps temp files of dead processes
  const plan = await planPrune(store, cmd.all);
  if (cmd.dryRun) {
    for (const p of [...plan.refs, ...plan.snapshots, ...plan.layers, ...plan.blobs]) await write(io.stdout, `would remove ${path.relative(store.root, p)}\n`);
    return 0;
  }
  // Other processes keep what they resolved from the store while its generation stamp holds: bumped before anything
  // goes (a start meanwhile checks the store in full) and after (what it read during the removal is not kept).
  await store.bumpGeneration();
  // References go first, so no pull trusts a record whose layers are being removed.
  for (const f of [...plan.refs, ...plan.snapshots]) await rm(f, { force: true });
  const removeLayer = plan.layers.length ? await layerRemover() : removeTree;
  for (const dir of plan.layers) {
    const [mapping, hex] = dir.split(path.sep).slice(-2);
    const lock = await store.lock(`layer-${mapping}-${hex}`); // not while a pull is unpacking or checking it
    try {
      await rm(`${dir}.ok`, { force: true }); // first: a half-removed layer is never trusted
      await removeLayer(dir);
    } finally {
      lock.release();
    }
  }
  let bytes = 0;
  for (const f of plan.blobs) {
    const lock = await store.lock(`blob-${path.basename(f)}`);
    try {
      bytes += (await stat(f).catch(() => undefined))?.size ?? 0;
      await rm(f, { force: true });
    } finally {
      lock.release();
    }
  }
  await store.bumpGeneration();
  await write(io.stdout, `removed ${plan.refs.length} references, ${plan.snapshots.length} snapshots, ${plan.layers.length} layers, ${plan.blobs.length} blobs (${formatBytes(bytes)} of blobs)\n`);
  return 0;
}

/** Root removes layer trees itself; rootless, their files belong to subordinate ids, so the keeper removes them. */
async function layerRemover(): Promise<(dir: string) => Promise<void>> {
  if (process.getuid?.() === 0) return removeTree;
  const runtime = await import('../runtime/index.js');
  return runtime.removeTree;
}

/** `slipway snapshots [ls|rm <key>…|prune [--all]]`: the snapshot records of the store (their layers go with `slipway prune`). */
export async function snapshotsCommand(cmd: SnapshotsCommand, io: CliIO): Promise<number> {
  const store = new ImageStore(defaultStoreRoot(io.env));
  await store.init();
  const snaps = new SnapshotStore(store);
  const records = await snaps.list();
  if (cmd.action === 'ls') {
    if (cmd.json) {
      for (const r of records) await write(io.stdout, `${JSON.stringify({ key: r.key, image: r.image, imageDigest: r.imageDigest, mapping: r.mappingKey, size: r.size, created: r.created, complete: r.complete })}\n`);
      return 0;
    }
    await write(io.stdout, `${['KEY', 'IMAGE', 'SIZE', 'CREATED', 'STATE'].join('\t')}\n`);
    for (const r of records) {
      await write(io.stdout, `${[r.key.slice(7, 19), r.image, formatBytes(r.size), r.created, r.complete ? 'ready' : 'incomplete'].join('\t')}\n`);
    }
    return 0;
  }
  const doomed = cmd.action === 'prune'
    ? records.filter((r) => cmd.all || !r.complete)
    : cmd.keys.map((k) => {
      const hex = k.replace(/^sha256:/, '');
      const hits = records.filter((r) => r.key.slice(7).startsWith(hex));
      if (!/^[a-f0-9]{6,64}$/.test(hex) || hits.length === 0) {
        throw new SlipwayError('ERR_INVALID_ARGUMENT', `no snapshot has the key ${JSON.stringify(k)}`, { hint: 'list them with `slipway snapshots ls` (a key or at least its first 6 hex digits)' });
      }
      if (hits.length > 1) throw new SlipwayError('ERR_INVALID_ARGUMENT', `the key prefix ${JSON.stringify(k)} names ${hits.length} snapshots`, { hint: 'give more hex digits' });
      return hits[0]!;
    });
  for (const r of doomed) await snaps.remove(r);
  await write(io.stdout, `removed ${doomed.length} snapshots (their layers go with \`slipway prune\`)\n`);
  return 0;
}

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { tmpfsWords, type LaunchPlan } from './launch-plan.js';
import { pull, type Image } from '../image/pull.js';
import { ImageStore, defaultStoreRoot } from '../image/store.js';
import { DOCKER_CAPS, Keeper } from './keeper/keeper.js';
import { USER_NETWORKS_CIDR } from './keeper/keeper-network.js';
import { buildProcessSpec } from './process-spec.js';
import { resolveUser, type ResolvedUser } from './user.js';
import { readFromLayers } from './layered-files.js';
import { detectNetworkTools } from './network/index.js';
import { bootTimeoutOf, ContainerHandle, MAX_TIMER_MS } from './container-handle.js';
import { UndoStack } from './undo-stack.js';
import { registerContainer } from './control/server.js';
import { claimOwnName } from './container-names.js';
import { logger } from '../internal/debug.js';
import { phaseTimer, type PhaseMark } from '../internal/phases.js';

/** One line per start phase (keeper, image lookup, state dirs, /etc/passwd, CREATE, …): DEBUG=slipway:start. */
const phaseLog = logger('start');

/** Files read from stored layers, by layer stack and path (at most {@link LAYER_FILES_KEPT}, oldest dropped first). */
const layerFiles = new Map<string, Promise<string>>();
const LAYER_FILES_KEPT = 64;

/**
 * A small file of a stack of stored layers (`''` when absent). Stored layers never change (a chain id names their
 * content, a snapshot's too), so each is read once per process: every start of an image read /etc/passwd and
 * /etc/group again, ~10 lstat and 2 reads.
 */
function layerFile(lowers: readonly string[], path: string): Promise<string> {
  const key = `${path}\0${lowers.join('\0')}`;
  let text = layerFiles.get(key);
  if (!text) {
    text = readFromLayers(lowers, path).then((t) => t ?? '');
    text.catch(() => layerFiles.delete(key));
    layerFiles.set(key, text);
    if (layerFiles.size > LAYER_FILES_KEPT) layerFiles.delete(layerFiles.keys().next().value!);
  }
  return text;
}

/** Users resolved against a stack of stored layers, by user spec and layer stack (at most {@link LAYER_FILES_KEPT}). */
const layerUsers = new Map<string, ResolvedUser>();

/**
 * The image's user for `spec` (`withUser`, else the image's User): its layers never change, so the passwd and group
 * files are parsed once per user and layer stack, not on every start. A copy: the caller owns its groups.
 */
async function layerUser(lowers: readonly string[], spec: string | undefined): Promise<ResolvedUser> {
  const key = `${spec ?? ''}\0${lowers.join('\0')}`;
  let user = layerUsers.get(key);
  if (!user) {
    const [passwd, group] = await Promise.all([layerFile(lowers, 'etc/passwd'), layerFile(lowers, 'etc/group')]);
    user = resolveUser(spec, passwd, group);
    layerUsers.set(key, user);
    if (layerUsers.size > LAYER_FILES_KEPT) layerUsers.delete(layerUsers.keys().next().value!);
  }
  return { ...user, groups: [...user.groups] };
}

let tools: Promise<boolean> | undefined;
/** Whether slirp4netns or pasta is installed (looked up once per process). */
function outboundTools(): Promise<boolean> {
  tools ??= detectNetworkTools().then((t) => Boolean(t.slirp4netns || t.pasta));
  return tools;
}

/**
 * Turns a launch plan (the builder's frozen options) into a created, started container (not yet waited for).
 * @param resolved - An image already resolved (a build's intermediate state), used instead of pulling `plan.image`.
 */
export async function launchContainer(plan: LaunchPlan, signal?: AbortSignal, resolved?: Image): Promise<ContainerHandle> {
  const mark = phaseTimer(phaseLog, plan.name ?? plan.image);
  const keeper = await keeperWithin(bootTimeoutOf(plan));
  mark('keeper');
  const image = resolved ?? await pullFor(keeper, plan, signal);
  mark('image lookup');
  if (signal?.aborted) throw abortError(undefined, signal, plan.name ?? plan.image);
  const id = randomBytes(32).toString('hex');
  const name = plan.name ?? `slipway-${id.slice(0, 12)}`;
  const undo = new UndoStack(name);
  undo.push('name', 'container', claimOwnName(name));
  const dir = join(keeper.stateDir, id.slice(0, 12));
  undo.push('state dir', 'container', () => keeper.rmtree(dir));
  try {
    return await create(keeper, image, plan, { id, name, dir }, undo, mark, signal);
  } catch (err) {
    await undo.unwind('remove');
    throw abortError(err, signal, name);
  }
}

/** The process's keeper, started within `ms` (a helper that never answers its HELLO must not hang every start). */
async function keeperWithin(ms: number): Promise<Keeper> {
  // Started already (every start but the first): no race against a timer.
  const running = Keeper.running();
  if (running) return running;
  const keeper = Keeper.get();
  if (ms > MAX_TIMER_MS) return keeper;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SlipwayError('ERR_START_TIMEOUT', `the keeper (slipway's native helper) did not start within ${ms} ms`, {
      hint: 'run `slipway info` to check the helper and user namespaces; with DEBUG=slipway:* the log shows where it stopped',
    })), ms);
  });
  try {
    return await Promise.race([keeper, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Pulls (or finds in the store) the plan's image with this process's keeper's id mapping: the image a launch of the
 * plan would use, and the mapping key its layers (and snapshot layers over them) are stored under.
 */
export async function resolveImage(plan: Pick<LaunchPlan, 'image' | 'pullPolicy' | 'platform' | 'pullTimeout'>, signal?: AbortSignal): Promise<{ image: Image; mappingKey: string }> {
  const keeper = await Keeper.get();
  return { image: await pullFor(keeper, plan, signal), mappingKey: keeper.mappingKey };
}

function pullFor(keeper: Keeper, plan: Pick<LaunchPlan, 'image' | 'pullPolicy' | 'platform' | 'pullTimeout'>, signal?: AbortSignal): Promise<Image> {
  return pull(plan.image, {
    policy: plan.pullPolicy,
    platform: plan.platform,
    timeout: plan.pullTimeout,
    signal,
    mappingKey: keeper.mappingKey,
    applyOwnership: (dir, list) => keeper.chownList(dir, list),
    removeTree: (p) => keeper.rmtree(p),
  });
}

/**
 * A boot step that saw the caller's signal throws the signal's reason (a DOMException): report it as ERR_ABORTED,
 * with a plain Error as cause (some error printers cannot render a DOMException cause).
 */
function abortError(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (!signal?.aborted || SlipwayError.is(err)) return err;
  const reason: unknown = signal.reason;
  const cause = reason instanceof Error && !(reason instanceof DOMException) ? reason : new Error(`aborted by the caller (${(reason as Error | undefined)?.name ?? String(reason)})`);
  return new SlipwayError('ERR_ABORTED', `start of ${what} was aborted; nothing of it is left`, { cause });
}

/** Docker's default set plus `add`, minus `drop` (`ALL` drops everything not added back). */
export function capabilitySet(add: readonly string[], drop: readonly string[]): string[] {
  const set = new Set(drop.includes('ALL') ? [] : DOCKER_CAPS.filter((c) => !drop.includes(c)));
  for (const c of add) set.add(c);
  return [...set];
}

/**
 * A store temp dir (on disk, its name carrying our pid: a store sweep removes it once this process is dead) for a
 * container's writable layer when the state dir is a tmpfs the user did not choose (see `Keeper.upperPlacement`);
 * undefined: the layer goes in the container's state dir.
 */
async function diskUpperParent(keeper: Keeper, name: string): Promise<string | undefined> {
  const root = defaultStoreRoot();
  const { where, why } = keeper.upperPlacement(root);
  phaseLog('%s: writable layer in the %s: %s', name, where === 'store' ? 'store' : 'state dir', why);
  if (where === 'state') return undefined;
  const parent = new ImageStore(root).tempPath('upper');
  try {
    await mkdir(parent, { mode: 0o700 });
    return parent;
  } catch (e) {
    phaseLog('%s: cannot make %s (%s): writable layer in the state dir', name, parent, (e as Error).message);
    return undefined;
  }
}

async function create(
  keeper: Keeper, image: Image, plan: LaunchPlan, ids: { id: string; name: string; dir: string },
  undo: UndoStack, mark: PhaseMark, signal?: AbortSignal,
): Promise<ContainerHandle> {
  const { id, name, dir } = ids;
  const upperParent = plan.upperParent ?? await diskUpperParent(keeper, name);
  if (upperParent) undo.push('writable layer', 'container', () => keeper.rmtree(upperParent));
  const upper = join(upperParent ?? dir, 'upper');
  const work = join(upperParent ?? dir, 'work');
  const etc = join(dir, 'etc');
  // Synchronous, the container's dir first: four mkdirs in the keeper's state dir take microseconds, where three
  // recursive mkdirs in parallel were three thread-pool chains racing to make the same parent (~3x the CPU).
  mkdirSync(dir, { recursive: true });
  for (const d of [upper, work, etc]) mkdirSync(d, { recursive: true });
  mark('state dirs');
  for (const m of plan.mounts) {
    if (m.kind !== 'bind') continue;
    await stat(m.source).catch((cause: NodeJS.ErrnoException) => {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `bind mount source ${m.source} (for ${m.target}): ${cause.code ?? cause.message}`, {
        cause, hint: 'create the host path first, or use withVolume() for a directory slipway manages',
      });
    });
  }
  const lowers = [...(plan.snapshotLayer ? [plan.snapshotLayer] : []), ...image.layers.map((l) => l.dir!).reverse()];
  const hostname = plan.hostname ?? id.slice(0, 12);
  const proc = buildProcessSpec(image.config, plan, { HOSTNAME: hostname });
  // The upper dir was just made (empty): the image's (and a snapshot's) layers alone decide.
  const user = await layerUser(lowers, proc.user);
  if (!proc.env.some((e) => e.startsWith('HOME='))) proc.env.push(`HOME=${user.home}`);
  mark('process spec and user');
  const logPath = join(dir, 'ctr.log');
  const handle = new ContainerHandle({
    keeper, id, name, dir, logPath, plan, image,
    spec: {
      id, stateDir: dir, lowerDirs: lowers, upperDir: upper, workDir: work,
      argv: proc.argv, env: proc.env, cwd: proc.cwd, uid: user.uid, gid: user.gid, groups: user.groups,
      hostname, netMode: plan.networkMode,
      // A persistent tap for slirp4netns/pasta (only when one is installed): stopping the helper then
      // takes ~1 ms instead of 15-45 ms (closing a non-persistent tap waits for RCU).
      tap: plan.networkMode === 'isolated' && (await outboundTools()) ? 'eth0' : undefined,
      // Attached to a user network or not, traffic for 10.89.0.0/16 must never leave through slirp4netns/pasta.
      unreachable: plan.networkMode === 'isolated' ? [USER_NETWORKS_CIDR] : undefined,
      mounts: await Promise.all(plan.mounts.map(async (m) => m.kind === 'bind'
        ? { type: 'bind' as const, source: m.source, target: m.target, readonly: m.readonly }
        : m.kind === 'volume'
          ? { type: 'bind' as const, source: await m.volume.hostPath(), target: m.target, readonly: m.readonly }
          : { type: 'tmpfs' as const, target: m.target, readonly: m.readonly, options: tmpfsWords(m) })),
      shmSize: plan.shmSize ?? 64 * 1024 * 1024,
      capabilities: capabilitySet(plan.capAdd, plan.capDrop),
      seccomp: plan.seccomp,
      noNewPrivileges: plan.noNewPrivileges === true,
      // -1 is "unlimited" (RLIM_INFINITY); the keeper clamps to its own hard limit.
      rlimits: Object.entries(plan.ulimits).map(([name, l]) => ({
        resource: `RLIMIT_${name.toUpperCase()}`, soft: l.soft === -1 ? Number.MAX_SAFE_INTEGER : l.soft, hard: l.hard === -1 ? Number.MAX_SAFE_INTEGER : l.hard,
      })),
      etcFiles: { hosts: join(etc, 'hosts'), hostname: join(etc, 'hostname'), resolvConf: join(etc, 'resolv.conf') },
      logPath,
    },
    hostname,
    undo,
  });
  mark('spec');
  await handle.boot(signal);
  // Listed for other slipway processes (`slipway ps`, exec, rm) until removed; unlisted first on remove.
  undo.push('listing', 'container', registerContainer(keeper, handle));
  return handle;
}


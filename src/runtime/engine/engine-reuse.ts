/**
 * `withReuse()` on an engine, as testcontainers does it there: the container carries its reuse key as a label and no
 * session label (the watchdog leaves it), and a later start with the same key, in this process or another, finds it
 * by that label (restarting it if it had stopped). The key is the native reuse key (`reuseIdentity`), with the
 * engine's image id for the image. Unlike natively there is no reuse keeper: nothing removes the container after an
 * idle timeout; it stays until removed (`stop()`, `docker rm`), as testcontainers' reused containers do.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import { logger } from '../../internal/debug.js';
import type { LaunchPlan } from '../launch-plan.js';
import { claimReusedName } from '../container-names.js';
import { reuseIdentity, toWirePlan, type WirePlan } from '../reuse/reuse-plan.js';
import { EngineContainer } from './engine-container.js';
import { ensureImage } from './engine-image.js';
import { launchEngineContainer } from './engine-launch.js';
import { engineSession } from './session.js';
import { SESSION_LABEL } from '../../engine/watchdog.js';

const log = logger('engine:reuse');

/** The label a reused container's key is kept in (the value: the reuse key, 64 hex digits). */
export const REUSE_KEY_LABEL = 'org.slipway.reuse-key';

/** Starts of one key in this process run one at a time: concurrent starts share one container. */
const pending = new Map<string, Promise<unknown>>();

interface Listed { Id: string; Names: string[]; State: string; ImageID?: string; Labels?: Record<string, string> | null }
interface Inspected { Name: string; Config: { Hostname: string }; State: { Running: boolean } }

/**
 * The container for `plan` kept for reuse: the one with the same reuse key if the engine has it (started again when
 * stopped), else a new one. Not waited for.
 * @throws SlipwayError `ERR_UNSUPPORTED` (user networks, volumes: they belong to this process), and what a start throws.
 */
export async function reuseEngineContainer(
  plan: LaunchPlan & { labels?: Readonly<Record<string, string>>; stopTimeout?: number }, endpoint: EngineEndpoint, signal?: AbortSignal,
): Promise<EngineContainer> {
  const wire = toWirePlan(plan);
  const releaseName = plan.name === undefined ? undefined : claimReusedName(plan.name);
  try {
    return await findOrLaunch(plan, wire, endpoint, releaseName, signal);
  } catch (err) {
    releaseName?.();
    throw err;
  }
}

async function findOrLaunch(
  plan: LaunchPlan, wire: WirePlan, endpoint: EngineEndpoint, releaseName: (() => void) | undefined, signal?: AbortSignal,
): Promise<EngineContainer> {
  const s = await engineSession(endpoint);
  const image = await ensureImage(s.client, plan.image, { policy: plan.pullPolicy, platform: plan.platform, signal });
  const { key } = await reuseIdentity(wire, { digest: image.id, manifestDigest: image.id });
  const before = pending.get(key);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => { done = resolve; });
  const turn = (before ?? Promise.resolve()).then(() => mine);
  pending.set(key, turn);
  try {
    await before?.catch(() => {});
    const filters = JSON.stringify({ label: [`${REUSE_KEY_LABEL}=${key}`] });
    const listed = await s.client.call<Listed[]>('GET', '/containers/json', { query: { all: 1, filters }, signal });
    // The label alone is no proof: Docker gives a container its image's labels, so any image can carry this key (it is
    // predictable: the public image id and the plan), and a container of it (newer, so listed first) was handed out as
    // ours. Ours run the plan's image and carry no session label (a session's containers are the watchdog's).
    const found = listed.find((c) => sameImage(c.ImageID, image.id) && !c.Labels?.[SESSION_LABEL]);
    for (const c of listed) if (c !== found) log('%s: %s carries reuse key %s but is not ours (image %s); left alone', plan.image, c.Id.slice(0, 12), key.slice(0, 12), c.ImageID);
    if (!found) {
      log('%s: no container with reuse key %s; starting one', plan.image, key.slice(0, 12));
      // No session label: the watchdog removes the session's containers, and this one outlives the session.
      return await launchEngineContainer(plan, endpoint, signal, { image, labels: { [REUSE_KEY_LABEL]: key }, releaseName });
    }
    const ins = await s.client.call<Inspected>('GET', `/containers/${found.Id}/json`, { signal });
    const c = new EngineContainer({
      client: s.client, id: found.Id, name: ins.Name.replace(/^\//, ''), hostname: ins.Config.Hostname,
      logPath: join(s.dir, `${found.Id.slice(0, 12)}-${randomBytes(4).toString('hex')}.log`), imageConfig: image.config, networks: [],
      local: endpoint.kind === 'unix', reused: true, releaseName,
    });
    log('%s: reusing %s (%s)', plan.image, c.name, ins.State.Running ? 'running' : 'started again');
    if (ins.State.Running) await c.follow();
    else await c.start();
    return c;
  } finally {
    done();
    if (pending.get(key) === turn) pending.delete(key);
  }
}

/** Image ids as engines list them: Docker's `sha256:<hex>`, some Podman versions the bare hex. */
function sameImage(a: string | undefined, b: string): boolean {
  return a !== undefined && a.replace(/^sha256:/, '') === b.replace(/^sha256:/, '');
}

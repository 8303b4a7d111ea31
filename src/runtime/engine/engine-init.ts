/**
 * The engine's init as the container's PID 1 (`HostConfig.Init`), dropped when the engine has none: Debian's Podman
 * does not install catatonit and refuses every create that asks for it ("container-init binary not found on the
 * host"). Without it the container's command is PID 1 itself, as in a plain `docker run`: signals reach it directly
 * and it must reap its own children. Warned once per engine session.
 */
import { hasStatus } from '../../engine/client.js';
import { logger } from '../../internal/debug.js';

const log = logger('engine:init');

/** An engine's refusal that says its init binary is missing (Podman without catatonit, a Docker without docker-init). */
export function engineLacksInit(err: unknown): boolean {
  if (!hasStatus(err, 500) && !hasStatus(err, 400)) return false;
  return /container-init binary not found|catatonit|docker-init/i.test((err as Error).message);
}

const sessionsWithoutInit = new Set<string>();

/**
 * `create(true)`, or `create(false)` when this session's engine has no init (learnt from the first refusal, which is
 * retried once without it).
 */
export async function createWithEngineInit<T>(sessionId: string, create: (init: boolean) => Promise<T>, warn: (text: string) => void = (t) => process.emitWarning(t)): Promise<T> {
  if (sessionsWithoutInit.has(sessionId)) return create(false);
  try {
    return await create(true);
  } catch (err) {
    if (!engineLacksInit(err)) throw err;
    sessionsWithoutInit.add(sessionId);
    log('engine has no init binary (%s): containers start without one', (err as Error).message);
    warn('slipway: the container engine has no init binary (Podman needs the catatonit package): containers start without one, so their command is PID 1 and must reap its own children; install catatonit to get the same behaviour as natively');
    return create(false);
  }
}

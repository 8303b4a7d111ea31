/**
 * testcontainers' `withReuse()` within one test process: a start whose configuration matches a container this process
 * started with `withReuse()` (still there, running or stopped without removal) gets that container back. Across
 * processes nothing is kept: the keeper removes every container when the process exits.
 */
import { createHash } from 'node:crypto';
import type { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';

const reusable = new Map<string, Promise<StartedContainer>>();

/** testcontainers' switch: reuse is on unless `TESTCONTAINERS_REUSE_ENABLE=false`. */
export function reuseEnabled(): boolean {
  return process.env.TESTCONTAINERS_REUSE_ENABLE !== 'false';
}

/** The configuration's hash, as testcontainers hashes the create options: how to wait or pull is not part of it. */
export function reuseKey(c: Container): string {
  const { waitStrategy: _w, startupTimeout: _s, pullPolicy: _p, ...rest } = c.options as unknown as Record<string, unknown>;
  const json = JSON.stringify(rest, (_key, v: unknown) => {
    // Networks, volumes… by what names them (their objects hold live handles).
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) {
      const o = v as { constructor?: { name?: string }; name?: unknown; id?: unknown };
      return `${o.constructor?.name ?? 'object'}:${String(o.name ?? o.id ?? '')}`;
    }
    return v;
  });
  return createHash('sha256').update(json).digest('hex');
}

/**
 * The container this process started under `key`, restarted if it was stopped, else the one `start` makes (kept
 * under `key` once started). Concurrent calls with one key share one start.
 */
export async function startReusable(key: string, start: () => Promise<StartedContainer>): Promise<{ container: StartedContainer; reused: boolean }> {
  for (;;) {
    const existing = reusable.get(key);
    if (!existing) return { container: await remember(key, start()), reused: false };
    const container = await existing.catch(() => undefined);
    if (reusable.get(key) !== existing) continue; // replaced meanwhile (a failed start, a restart): look again
    if (!container || container.removed) {
      reusable.delete(key);
      continue;
    }
    if (await hasExited(container)) {
      if (reusable.get(key) !== existing) continue;
      await remember(key, container.restart().then(() => container));
    }
    return { container, reused: true };
  }
}

function remember(key: string, p: Promise<StartedContainer>): Promise<StartedContainer> {
  reusable.set(key, p);
  p.catch(() => { if (reusable.get(key) === p) reusable.delete(key); });
  return p;
}

/** Whether the container's process has exited (stopped, not removed). */
async function hasExited(c: StartedContainer): Promise<boolean> {
  let exited = false;
  void c.wait().then(() => { exited = true; }, () => { exited = true; });
  await new Promise((r) => setImmediate(r));
  return exited;
}

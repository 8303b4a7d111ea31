// kill -9 of the Node process at each phase of a container's boot: the keeper's teardown chain must take everything
// with it (init, the outbound helper, the published port, the state dir), however far the boot got.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fixtureRef, hasCommand, helperBuilt, isRoot, outboundHelpersOf, skipUnless, spawnTsChild, tunUsable, until, userNamespacesAllowed } from '../harness/index.js';

function alive(pid: number): boolean {
  try { return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); } catch { return false; }
}
/** slirp4netns/pasta processes serving `initPid` (its pid in their argv, or attached to its prepared namespace). */
const helpersOf = (initPid: number): number[] => outboundHelpersOf(initPid).map((h) => h.pid);
/**
 * Whether something listens on 127.0.0.1:`port` in this network namespace (read from /proc/net/tcp: a connect would
 * race the keeper's prompt reset of connections to a container that has not started).
 */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => {
    const cols = l.trim().split(/\s+/);
    return cols[1] === `0100007F:${hex}` && cols[3] === '0A';
  });
}
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('kill -9 during a boot', () => {
  for (const phase of ['created', 'publishing', 'starting', 'waiting'] as const) {
    it(`at "${phase}" leaves no process, helper, port or directory`, async () => {
      const port = await freePort();
      const { child, info } = await spawnTsChild<{ keeperPid: number; keeperDir: string; initPid: number }>(join(import.meta.dirname, 'boot-kill-child.mts'), {
        BOOT_KILL_PHASE: phase, BOOT_KILL_PORT: String(port), BOOT_KILL_REF: fixtureRef('busybox'), BOOT_KILL_LIMIT: isRoot() ? '1' : '0',
      });
      expect(alive(info.initPid), 'init runs').toBe(true);
      const helpers = helpersOf(info.initPid);
      // The outbound helper starts right after CREATE.
      if (phase !== 'created' && tunUsable() && (hasCommand('slirp4netns') || hasCommand('pasta'))) expect(helpers).toHaveLength(1);
      if (phase === 'starting' || phase === 'waiting') expect(listening(port), 'the port is published').toBe(true);
      child.kill('SIGKILL');
      const left = () => ({ init: alive(info.initPid), keeper: alive(info.keeperPid), helpers: helpers.filter(alive), dir: existsSync(info.keeperDir) });
      await until(() => { const l = left(); return !l.init && !l.keeper && !l.helpers.length && !l.dir; }, 5000).catch(() => undefined);
      expect(left()).toEqual({ init: false, keeper: false, helpers: [], dir: false });
      expect(listening(port)).toBe(false);
    });
  }
});

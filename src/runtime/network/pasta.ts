import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../../internal/debug.js';
import { HelperProcess } from './helper-process.js';
import { GUEST_NET, type OutboundNet } from './types.js';

const log = logger('network');

/** Options for {@link pastaArgs}/{@link startPasta}. */
export interface PastaOptions {
  hostLoopback: boolean;
  mtu: number;
  ifname: string;
  /** Where pasta writes its pid once the namespace is configured (our readiness signal). */
  pidFile: string;
  /** Running as root: keep root instead of pasta's switch to `nobody`, who may not open the container's namespaces. */
  root: boolean;
}

/**
 * The command line for a container whose init has host pid `pid`. The `PID` form makes pasta join that process's user
 * namespace and then its network namespace (a netns owned by a child user namespace needs both).
 *
 * - Same addressing as slirp4netns (10.0.2.100/24, gateway 10.0.2.2, DNS forwarder 10.0.2.3), IPv4 only.
 * - `-t none -u none -T none -U none`: no port forwarding either way (slipway publishes ports itself).
 * - `--no-map-gw` unless `hostLoopback`: without it, pasta maps the gateway address to every port of the host's
 *   loopback. (`-T none -U none` above already keeps pasta from forwarding namespace ports to the host.)
 * - `-f`: stay in the foreground as our child, so it can be stopped and dies with us (parent-death signal).
 */
export function pastaArgs(pid: number, o: PastaOptions): string[] {
  return [
    '--config-net', '-f', '-q', '-4',
    '-I', o.ifname, '-m', String(o.mtu),
    '-a', GUEST_NET.guestIp, '-n', String(GUEST_NET.prefix), '-g', GUEST_NET.gateway,
    '--dns-forward', GUEST_NET.dns,
    '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none',
    ...(o.hostLoopback ? [] : ['--no-map-gw']),
    ...(o.root ? ['--runas', '0'] : []),
    '-P', o.pidFile,
    String(pid),
  ];
}

/**
 * Starts pasta for `pid` and resolves once the interface is configured: pasta writes its pid file only after it set
 * up the tap device, addresses and routes in the namespace, so the file's content is the ready signal.
 *
 * pasta has no exit fd; it is spawned through `setpriv --pdeathsig SIGKILL` when available so it dies with Node.
 */
export async function startPasta(
  bin: string, pid: number,
  o: Omit<PastaOptions, 'pidFile' | 'root'> & { timeoutMs: number; signal?: AbortSignal; setpriv?: string },
): Promise<OutboundNet> {
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-pasta-'));
  const pidFile = join(dir, 'pid');
  const args = pastaArgs(pid, { ...o, pidFile, root: process.geteuid?.() === 0 });
  const proc = o.setpriv
    ? new HelperProcess('pasta', o.setpriv, ['--pdeathsig', 'SIGKILL', bin, ...args], 0, log)
    : new HelperProcess('pasta', bin, args, 0, log);
  let stop = false;
  const ready = (async () => {
    for (let n = 0; !stop; n++) {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      if (/^\d+\s*$/.test(text)) return;
      // pasta is usually ready within 10-30 ms: poll every millisecond at first, then back off.
      await new Promise((r) => setTimeout(r, n < 100 ? 1 : 10));
    }
  })();
  try {
    await proc.waitReady(ready, o.timeoutMs, o.signal, `configure ${o.ifname} in the namespace of pid ${pid}`);
  } finally {
    stop = true;
    await rm(dir, { recursive: true, force: true });
  }
  proc.unref();
  const startMs = performance.now() - t0;
  log('pasta %d ready for pid %d in %d ms', proc.pid, pid, Math.round(startMs));
  return {
    tool: 'pasta', pid: proc.pid, ifname: o.ifname, mtu: o.mtu, startMs,
    guestIp: GUEST_NET.guestIp, gateway: GUEST_NET.gateway, dns: GUEST_NET.dns,
    ...(o.hostLoopback ? { hostLoopbackAlias: GUEST_NET.gateway } : {}),
    close: () => proc.close(),
  };
}

import { SlipwayError, invalidArgument } from '../../errors.js';
import { logger } from '../../internal/debug.js';
import { detectNetworkTools, findSystemTool, type NetworkTools } from './detect-tools.js';
import { startPasta } from './pasta.js';
import { slirp4netnsPoolArgs, startSlirp4netns } from './slirp4netns.js';
import { GUEST_NET, type OutboundNet, type StartOutboundOptions } from './types.js';

const log = logger('network');
let saidNoTool = false;

/**
 * Gives the network namespace of host process `pid` (a container init, whose netns belongs to the keeper's user
 * namespace) outbound TCP/UDP and DNS through slirp4netns or pasta, whichever is installed (slirp4netns first unless
 * `prefer` says otherwise; if the first one fails to start, the other is tried).
 *
 * Inside the container: `eth0` 10.0.2.100/24, default route via 10.0.2.2, DNS forwarder 10.0.2.3, MTU 65520.
 * The host's loopback is not reachable (slirp4netns `--disable-host-loopback`, pasta `--no-map-gw`), unless
 * `hostLoopback` maps 10.0.2.2 to all of it (dangerous; see {@link StartOutboundOptions.hostLoopback}). Named host
 * ports are reached through the keeper instead (`Keeper.forwardHostPort`), with or without a helper.
 * DNS: the helper's forwarder (10.0.2.3) relays queries to the host's resolvers, so names resolve outside.
 *
 * `pid` may be a promise (a container whose CREATE is not answered yet): slirp4netns started through `launcher` does not
 * wait for it (the keeper writes the pid in and starts it once the namespace exists), pasta and a slirp4netns of Node's
 * own do. A rejected `pid` fails the start.
 *
 * @returns the running helper, or `undefined` (with one debug note per process) when neither tool is installed.
 * @throws SlipwayError `ERR_NETWORK` with the helper's stderr when it fails or times out; `ERR_ABORTED`.
 * @example
 * const net = await startOutbound(containerPid, { hostLoopback: false });
 * await writeFile(resolvPath, resolvConfFor(net, await readFile('/etc/resolv.conf', 'utf8')));
 * // … on removal: await net?.close();
 */
export async function startOutbound(pid: number | Promise<number>, opts: StartOutboundOptions): Promise<OutboundNet | undefined> {
  if (typeof pid === 'number' && (!Number.isSafeInteger(pid) || pid <= 0)) throw invalidArgument('pid', pid, 'a positive process id');
  const mtu = opts.mtu ?? GUEST_NET.defaultMtu;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65520) throw invalidArgument('mtu', mtu, 'an integer from 576 to 65520');
  const ifname = opts.ifname ?? 'eth0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw invalidArgument('ifname', ifname, 'an interface name of at most 15 characters');
  if (opts.prefer !== undefined && opts.prefer !== 'slirp4netns' && opts.prefer !== 'pasta') throw invalidArgument('prefer', opts.prefer, '"slirp4netns" or "pasta"');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  opts.signal?.throwIfAborted();

  const found = opts.tools ?? (await networkTools());
  const order = (opts.prefer === 'pasta' ? ['pasta', 'slirp4netns'] : ['slirp4netns', 'pasta']) as Array<'pasta' | 'slirp4netns'>;
  const candidates = order.filter((t) => found[t] !== undefined);
  if (candidates.length === 0) {
    if (!saidNoTool) {
      saidNoTool = true;
      log('outbound network access is off: neither slirp4netns nor pasta is installed (apt-get install slirp4netns, or passt for pasta); published ports still work');
    }
    return undefined;
  }
  const setpriv = candidates.includes('pasta') ? (await detectSetpriv()) : undefined;
  const errors: unknown[] = [];
  for (const tool of candidates) {
    try {
      // Given up meanwhile (the boot is undone): no other helper is tried.
      if (opts.signal?.aborted) throw new SlipwayError('ERR_ABORTED', `starting ${tool} was aborted`, { cause: opts.signal.reason });
      const common = { hostLoopback: opts.hostLoopback, mtu, ifname, timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) };
      if (tool === 'pasta') return await startPasta(found.pasta!, await pid, { ...common, ...(setpriv ? { setpriv } : {}) });
      const slirp = { ...common, ...(opts.launcher ? { launcher: opts.launcher } : {}) };
      try {
        return await startSlirp4netns(found.slirp4netns!, opts.launcher ? pid : await pid, slirp);
      } catch (err) {
        // --enable-sandbox needs to create a mount namespace and pivot_root; some confined hosts refuse that.
        if (SlipwayError.is(err, 'ERR_ABORTED') || !/sandbox|pivot_root|mount/i.test((err as Error).message)) throw err;
        log('slirp4netns failed with --enable-sandbox, retrying without: %s', (err as Error).message);
        return await startSlirp4netns(found.slirp4netns!, opts.launcher ? pid : await pid, { ...slirp, sandbox: false });
      }
    } catch (err) {
      if (SlipwayError.is(err, 'ERR_ABORTED')) throw err;
      log('%s failed: %s', tool, (err as Error).message);
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  throw new SlipwayError('ERR_NETWORK', `neither ${candidates.join(' nor ')} could connect pid ${await pid}: ${errors.map((e) => (e as SlipwayError).shortMessage ?? String(e)).join('; ')}`, {
    cause: errors[0], hint: (errors[0] as SlipwayError).hint, details: errors.map((e) => (e as Error).message).join('\n'),
  });
}

/**
 * The keeper-started slirp4netns command line `startOutbound(pid, { hostLoopback, launcher })` would ask for, in the
 * form of a prepared namespace's (`null`: the namespace fd's path), for CREATE's `outboundPool`; `undefined` when that
 * start would not be slirp4netns with the defaults (not installed, pasta preferred, other MTU or interface name).
 */
export async function outboundPoolArgv(opts: Pick<StartOutboundOptions, 'hostLoopback' | 'prefer' | 'mtu' | 'ifname' | 'tools'>): Promise<Array<string | null> | undefined> {
  if (opts.prefer === 'pasta' || (opts.mtu !== undefined && opts.mtu !== GUEST_NET.defaultMtu) || (opts.ifname !== undefined && opts.ifname !== 'eth0')) return undefined;
  const bin = (opts.tools ?? (await networkTools())).slirp4netns;
  if (!bin) return undefined;
  return [bin, ...slirp4netnsPoolArgs({ hostLoopback: opts.hostLoopback, mtu: GUEST_NET.defaultMtu, ifname: 'eth0' })];
}

const toolsByPath = new Map<string, Promise<NetworkTools>>();

/**
 * The tools on the current `PATH`, looked up once per `PATH` value and process: a container's helper is asked for
 * right behind its CREATE, and two `access()` calls through libuv's thread pool per start delayed that request.
 */
function networkTools(): Promise<NetworkTools> {
  const path = process.env.PATH ?? '';
  let found = toolsByPath.get(path);
  if (!found) {
    found = detectNetworkTools(path);
    toolsByPath.set(path, found);
  }
  return found;
}

function detectSetpriv(): Promise<string | undefined> {
  return findSystemTool('setpriv', () => log('setpriv not found: pasta will not die with this process if it is killed outright'));
}

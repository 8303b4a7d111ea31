import { logger } from '../../internal/debug.js';
import { HelperProcess } from './helper-process.js';
import { GUEST_NET } from './types.js';
const log = logger('network');
/** The fds slirp4netns gets: 3 = ready (it writes "1" once configured), 4 = exit (it quits when this hangs up). */
const READY_FD = 3;
const EXIT_FD = 4;
/** The command line for a container whose init has host pid `pid` (slirp4netns joins its user and net namespaces). */
export function slirp4netnsArgs(pid, o) {
    return [
        '--configure', `--mtu=${o.mtu}`,
        ...(o.hostAccess ? [] : ['--disable-host-loopback']),
        ...(o.sandbox === false ? [] : ['--enable-sandbox']),
        '-r', String(READY_FD), '-e', String(EXIT_FD),
        String(pid), o.ifname,
    ];
}
/**
 * Starts slirp4netns for `pid` and resolves once the interface is configured (the ready fd got its byte).
 *
 * The exit fd is one end of a socketpair whose other end only this Node process holds (close-on-exec, so the keeper
 * and other children do not inherit it): when Node dies, slirp4netns sees the hang-up and exits.
 */
export async function startSlirp4netns(bin, pid, o) {
    const t0 = performance.now();
    const proc = new HelperProcess('slirp4netns', bin, slirp4netnsArgs(pid, o), 2, log);
    const readyPipe = proc.child.stdio[READY_FD];
    const ready = new Promise((resolve) => {
        readyPipe?.once('data', () => resolve());
    });
    readyPipe?.on('error', () => undefined);
    proc.child.stdio[EXIT_FD]?.on('error', () => undefined);
    await proc.waitReady(ready, o.timeoutMs, o.signal, `configure ${o.ifname} in the namespace of pid ${pid}`);
    readyPipe?.destroy();
    proc.unref();
    const startMs = performance.now() - t0;
    log('slirp4netns %d ready for pid %d in %d ms', proc.pid, pid, Math.round(startMs));
    return {
        tool: 'slirp4netns', pid: proc.pid, ifname: o.ifname, mtu: o.mtu, startMs,
        guestIp: GUEST_NET.guestIp, gateway: GUEST_NET.gateway, dns: GUEST_NET.dns,
        ...(o.hostAccess ? { hostLoopbackAlias: GUEST_NET.gateway } : {}),
        close: () => proc.close(),
    };
}

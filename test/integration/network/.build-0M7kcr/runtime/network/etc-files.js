import { invalidArgument } from '../../errors.js';
/** Names that resolve to the host's loopback services when host access is on. */
export const HOST_ALIASES = ['host.slipway.internal', 'host.containers.internal', 'host.docker.internal'];
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;
function checkIp(option, ip) {
    if (!IPV4_RE.test(ip) && !(ip.includes(':') && IPV6_RE.test(ip)))
        throw invalidArgument(option, ip, 'an IPv4 or IPv6 address');
    return ip;
}
function checkName(option, name) {
    if (!HOSTNAME_RE.test(name))
        throw invalidArgument(option, name, 'a hostname (letters, digits, "-" and ".")');
    return name;
}
/**
 * Content for the container's `/etc/hosts`: localhost lines, the hostname, the host aliases when host access is on,
 * then the extra hosts.
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a bad hostname or address.
 * @example hostsFileFor({ hostname: 'db', hostAccessIp: '10.0.2.2', extraHosts: { 'api.test': '10.0.2.2' } })
 */
export function hostsFileFor({ hostname, ownIp, hostAccessIp, extraHosts }) {
    checkName('hostname', hostname);
    const lines = [
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        'fe00::0\tip6-localnet',
        'ff00::0\tip6-mcastprefix',
        'ff02::1\tip6-allnodes',
        'ff02::2\tip6-allrouters',
    ];
    const short = hostname.split('.')[0];
    lines.push(`${ownIp === undefined ? '127.0.1.1' : checkIp('ownIp', ownIp)}\t${short === hostname ? hostname : `${hostname} ${short}`}`);
    if (hostAccessIp !== undefined)
        lines.push(`${checkIp('hostAccessIp', hostAccessIp)}\t${HOST_ALIASES.join(' ')}`);
    const extras = extraHosts === undefined ? [] : Array.isArray(extraHosts) ? extraHosts : Object.entries(extraHosts);
    for (const [name, ip] of extras) {
        lines.push(`${checkIp(`extraHosts[${name}]`, ip)}\t${checkName('extraHosts', name)}`);
    }
    return `${lines.join('\n')}\n`;
}
/**
 * Content for the container's `/etc/resolv.conf`.
 *
 * - With outbound networking: the tool's DNS forwarder (slirp4netns 10.0.2.3, pasta `--dns-forward` 10.0.2.3), which
 *   relays to the host's resolvers; search/options lines of the host are kept.
 * - Without (no tool, or network mode none): no nameserver, only a comment saying why: the namespace has nothing but
 *   loopback, so no resolver outside it could be reached.
 *
 * @param hostResolv - the host's `/etc/resolv.conf` content (read by the caller; empty when unknown).
 */
export function resolvConfFor(net, hostResolv = '') {
    const keep = [];
    for (const raw of hostResolv.split('\n')) {
        const line = raw.trim();
        const [key] = line.split(/\s+/);
        if (key === 'search' || key === 'domain' || key === 'options')
            keep.push(line);
    }
    const out = [];
    if (net)
        out.push(`nameserver ${net.dns}`);
    else
        out.push('# slipway: no outbound network (install slirp4netns or passt for DNS and outbound access)');
    return `${[...keep, ...out].join('\n')}\n`;
}

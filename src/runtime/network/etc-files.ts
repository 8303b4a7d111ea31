import { invalidArgument } from '../../errors.js';
import type { OutboundNet } from './types.js';

/** Names that resolve to the host when host access is on (its named loopback ports, or all of them). */
export const HOST_ALIASES = ['host.slipway.internal', 'host.containers.internal', 'host.docker.internal'] as const;

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/** Options for {@link hostsFileFor}. */
export interface HostsFileOptions {
  /** The container's hostname (also the short name when it contains dots). */
  hostname: string;
  /** The container's own address (defaults to 127.0.1.1, as Debian does, so the hostname always resolves). */
  ownIp?: string;
  /** Address of the host as seen from the container; adds the `host.*.internal` names. */
  hostAccessIp?: string;
  /** More names for that address (with `hostAccessIp` only), e.g. `host.testcontainers.internal`. */
  hostAliases?: readonly string[];
  /** Extra entries, as `{ name: ip }` or `[name, ip]` pairs (Docker's `--add-host`). */
  extraHosts?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
}

function checkIp(option: string, ip: string): string {
  if (!IPV4_RE.test(ip) && !(ip.includes(':') && IPV6_RE.test(ip))) throw invalidArgument(option, ip, 'an IPv4 or IPv6 address');
  return ip;
}
function checkName(option: string, name: string): string {
  if (!HOSTNAME_RE.test(name)) throw invalidArgument(option, name, 'a hostname (letters, digits, "-" and ".")');
  return name;
}

/**
 * Content for the container's `/etc/hosts`: localhost lines, the hostname, the host aliases when host access is on,
 * then the extra hosts.
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a bad hostname or address.
 * @example hostsFileFor({ hostname: 'db', hostAccessIp: '10.0.2.2', extraHosts: { 'api.test': '10.0.2.2' } })
 */
export function hostsFileFor({ hostname, ownIp, hostAccessIp, hostAliases = [], extraHosts }: HostsFileOptions): string {
  checkName('hostname', hostname);
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  const short = hostname.split('.')[0]!;
  lines.push(`${ownIp === undefined ? '127.0.1.1' : checkIp('ownIp', ownIp)}\t${short === hostname ? hostname : `${hostname} ${short}`}`);
  if (hostAccessIp !== undefined) {
    const names = [...new Set([...HOST_ALIASES, ...hostAliases.map((n) => checkName('hostAliases', n))])];
    lines.push(`${checkIp('hostAccessIp', hostAccessIp)}\t${names.join(' ')}`);
  }
  const extras = extraHosts === undefined ? [] : Array.isArray(extraHosts) ? extraHosts : Object.entries(extraHosts as Record<string, string>);
  for (const [name, ip] of extras as Array<readonly [string, string]>) {
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
export function resolvConfFor(net: Pick<OutboundNet, 'dns'> | undefined, hostResolv = ''): string {
  const keep: string[] = [];
  for (const raw of hostResolv.split('\n')) {
    const line = raw.trim();
    const [key] = line.split(/\s+/);
    if (key === 'search' || key === 'domain' || key === 'options') keep.push(line);
  }
  const out: string[] = [];
  if (net) out.push(`nameserver ${net.dns}`);
  else out.push('# slipway: no outbound network (install slirp4netns or passt for DNS and outbound access)');
  return `${[...keep, ...out].join('\n')}\n`;
}

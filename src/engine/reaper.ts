/**
 * The teardown guarantee for a remote engine, as testcontainers' Ryuk: a small container on the engine's host, with
 * the engine's socket mounted, that holds a TCP connection from the test process. When every connection drops (the
 * test process exits or is SIGKILLed, or its machine dies), it removes every container, network and volume carrying
 * the session's label, then exits (and is removed: AutoRemove). The local watchdog cannot do this when its machine is
 * the one that died. Protocol as Ryuk's: the client sends `label=<key>=<value>\n` lines, each answered `ACK\n`.
 *
 * As Ryuk, it does not sweep the moment the last connection drops: it waits `reconnectTimeout` (the
 * `reaperReconnectTimeout` setting, 10 s as Ryuk's `RYUK_RECONNECTION_TIMEOUT`) for a client to come back, and the
 * client reconnects by itself (and sends its label again) when its connection drops while its process lives. A
 * network blip therefore costs nothing; a dead test process is still swept, that much later.
 *
 * The script is Perl with core modules only (perl-base: IO::Socket, IO::Select; no Time::HiRes, so the grace counts
 * whole seconds, rounded up), so any Debian-based image runs it: `debian:bookworm-slim` by default (the `reaperImage`
 * setting), the fixtures' `debian` in tests.
 */
import { connect, type Socket } from 'node:net';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { join } from 'node:path';
import type { EngineClient } from './client.js';
import type { EngineEndpoint } from './endpoint.js';

const log = logger('engine:reaper');

/** The label the reaper container carries (not the session's: it must not remove itself before it is done). */
export const REAPER_LABEL = 'org.slipway.reaper';
const PORT = 8080;

// One connection is enough to hold the session; until the first arrives (60 s) nothing is removed. Once none is left,
// the sweep waits GRACE seconds for one to come back ($lost: when the last dropped). HTTP/1.0 over the
// socket: the answer ends with the connection (no chunked bodies to parse without a JSON module).
const SCRIPT = String.raw`
use strict; use IO::Socket::INET; use IO::Socket::UNIX; use IO::Select;
$| = 1;
my $srv = IO::Socket::INET->new(LocalPort => ${PORT}, Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
my $sel = IO::Select->new($srv); my %buf; my %filters; my $seen = 0; my $t0 = time; my $lost;
my $grace = $ENV{GRACE} // 10;
sub api { my ($m, $p) = @_;
  my $s = IO::Socket::UNIX->new(Peer => '/var/run/docker.sock', Type => SOCK_STREAM) or return '';
  print $s "$m $p HTTP/1.0\r\nHost: docker\r\n\r\n"; local $/; my $r = <$s> // ''; close $s; $r =~ s/^.*?\r\n\r\n//s; return $r; }
sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge; $v }
sub sweep { for my $f (keys %filters) { my $q = enc('{"label":["' . $f . '"]}');
  for my $id (api('GET', "/containers/json?all=1&filters=$q") =~ /"Id":"([0-9a-f]{64})"/g) { api('DELETE', "/containers/$id?force=1&v=1") }
  for my $id (api('GET', "/networks?filters=$q") =~ /"Id":"([0-9a-f]{64})"/g) { api('DELETE', "/networks/$id") }
  for my $n (api('GET', "/volumes?filters=$q") =~ /"Name":"([^"]+)"/g) { api('DELETE', '/volumes/' . enc($n) . '?force=1') } } }
print "ready\n";
while (1) {
  for my $c ($sel->can_read(1)) {
    if ($c == $srv) { my $n = $srv->accept or next; $sel->add($n); $seen = 1; $lost = undef; next; }
    my $got = sysread($c, my $chunk, 4096);
    if (!$got) { $sel->remove($c); close $c; delete $buf{$c}; $lost = time if $sel->count == 1; next; }
    $buf{$c} .= $chunk;
    while ($buf{$c} =~ s/^([^\n]*)\n//) { my $l = $1; if ($l =~ /^label=(.+)$/) { $filters{$1} = 1; syswrite($c, "ACK\n"); } }
  }
  # time ticks in whole seconds: "more than GRACE" is at least GRACE seconds after the drop.
  last if ($seen && $sel->count == 1 && defined $lost && time - $lost > $grace) || (!$seen && time - $t0 > 60);
}
sweep(); sweep(); exit 0;
`;

/** Where the reaper reaches the engine from: its socket on the engine's host, and the published port's address there. */
export interface ReaperOptions {
  image: string;
  /** The engine's socket on its host, mounted into the reaper ({@link reaperSocketPath}). @defaultValue `/var/run/docker.sock` */
  socketPath?: string;
  /** How long the reaper waits for a dropped client to reconnect before sweeping, in ms. @defaultValue 10000 */
  reconnectTimeout?: number;
  /** Where to publish the reaper's port on the engine's host: `0.0.0.0` for a remote engine. */
  bindIp: string;
  /** The address this process reaches published ports on. */
  host: string;
  session: string;
  sessionLabel: string;
  /** Run it privileged (the `reaperPrivileged` setting, testcontainers' `TESTCONTAINERS_RYUK_PRIVILEGED`). @defaultValue false */
  privileged?: boolean;
}

/** The reaper's `POST /containers/create` body. */
export function reaperCreateBody(opts: ReaperOptions, grace: number): Record<string, unknown> {
  return {
    Image: opts.image, Entrypoint: ['perl', '-e', SCRIPT], Cmd: [], Env: [`GRACE=${grace}`], Labels: { [REAPER_LABEL]: opts.session },
    ExposedPorts: { [`${PORT}/tcp`]: {} },
    HostConfig: {
      AutoRemove: true, Binds: [`${opts.socketPath ?? '/var/run/docker.sock'}:/var/run/docker.sock`],
      PortBindings: { [`${PORT}/tcp`]: [{ HostIp: opts.bindIp, HostPort: '' }] },
      ...(opts.privileged ? { Privileged: true } : {}),
    },
  };
}

/**
 * Starts the reaper and connects to it; resolves once it acknowledged the session's label. The connection is
 * unref'd: it never keeps this process alive, and it drops when the process ends in any way.
 * @throws SlipwayError `ERR_RUNTIME_UNAVAILABLE` when the reaper does not answer within 60 s (its log lines attached)
 */
export async function startReaper(client: EngineClient, opts: ReaperOptions): Promise<ReaperConnection> {
  const grace = Math.max(1, Math.ceil((opts.reconnectTimeout ?? 10_000) / 1000));
  const created = await client.call<{ Id: string }>('POST', '/containers/create', {
    query: { name: `slipway-reaper-${opts.session}` },
    body: reaperCreateBody(opts, grace),
  });
  const id = created.Id;
  try {
    await client.call('POST', `/containers/${id}/start`);
    const inspect = await client.call<{ NetworkSettings: { Ports?: Record<string, { HostPort: string }[] | null> } }>('GET', `/containers/${id}/json`);
    const port = Number(inspect.NetworkSettings.Ports?.[`${PORT}/tcp`]?.[0]?.HostPort);
    const filter = `label=${opts.sessionLabel}=${opts.session}\n`;
    // The engine's port proxy accepts before the script listens: retry until the label is acknowledged.
    for (const t0 = Date.now(); ;) {
      const socket = await handshake(opts.host, port, filter).catch((e: Error) => e);
      if (!(socket instanceof Error)) {
        log('reaper %s on %s:%d holds session %s (reconnect grace %d s)', id.slice(0, 12), opts.host, port, opts.session, grace);
        return new ReaperConnection(id, socket, () => handshake(opts.host, port, filter, true), grace * 1000);
      }
      if (Date.now() - t0 > 60_000) {
        throw new SlipwayError('ERR_RUNTIME_UNAVAILABLE', `the reaper container (${opts.image}) did not answer on ${opts.host}:${port}: ${socket.message}`, {
          cause: socket, hint: 'the engine\'s published ports must be reachable from here (SLIPWAY_HOST names the engine\'s host); the reaper image needs perl (the reaperImage setting)',
        });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await client.call('DELETE', `/containers/${id}`, { query: { force: 1 } }).catch(() => {});
    throw err;
  }
}

/**
 * The test process's hold on the reaper: one connection, made again when it drops while this process lives (a
 * network blip, the engine's port proxy restarting), within the reaper's reconnect grace. Timers and sockets are
 * unref'd: it never keeps the process alive.
 */
export class ReaperConnection {
  readonly containerId: string;
  #socket: Socket;
  readonly #connect: () => Promise<Socket>;
  readonly #grace: number;
  #reconnects = 0;

  /** @internal */
  constructor(containerId: string, socket: Socket, connect: () => Promise<Socket>, grace: number) {
    this.containerId = containerId;
    this.#socket = socket;
    this.#connect = connect;
    this.#grace = grace;
    this.#watch(socket);
  }

  /** The current connection (a new one after each reconnect). */
  get socket(): Socket { return this.#socket; }

  /** How many times the connection was made again. */
  get reconnects(): number { return this.#reconnects; }

  #watch(socket: Socket): void {
    socket.once('close', () => { if (socket === this.#socket) void this.#reconnect(); });
  }

  async #reconnect(): Promise<void> {
    const t0 = Date.now();
    log('reaper %s: connection dropped; reconnecting', this.containerId.slice(0, 12));
    for (let attempt = 0; ; attempt++) {
      const s = await this.#connect().catch((e: Error) => e);
      if (!(s instanceof Error)) {
        this.#socket = s;
        this.#reconnects++;
        this.#watch(s);
        log('reaper %s: reconnected after %d ms', this.containerId.slice(0, 12), Date.now() - t0);
        return;
      }
      // Past the grace the reaper has swept the session (or is gone): nothing left to hold.
      if (Date.now() - t0 > this.#grace + 5000) {
        log('reaper %s: could not reconnect within %d ms (%s); the session\'s resources are removed by now', this.containerId.slice(0, 12), this.#grace, s.message);
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** attempt)).unref());
    }
  }
}

/**
 * The engine's socket as the reaper mounts it: a path on the engine's host, not necessarily this machine's. The
 * override (`dockerSocketOverride`, testcontainers' `TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE`) first; a TCP engine's
 * and a VM's (Docker Desktop `~/.docker/…`, Colima `~/.colima/…`, Rancher Desktop `~/.rd/…`: those sockets are
 * forwards into the VM, where the engine listens on `/var/run/docker.sock`) is `/var/run/docker.sock`; any other unix
 * socket is the engine's own path (a rootless dockerd's `$XDG_RUNTIME_DIR/docker.sock`, Podman's `podman.sock`).
 */
export function reaperSocketPath(endpoint: EngineEndpoint, override: string | undefined, home: string): string {
  if (override) return override;
  if (endpoint.kind !== 'unix') return '/var/run/docker.sock';
  const vm = ['.docker', '.colima', '.rd'].some((d) => endpoint.socketPath.startsWith(join(home, d) + '/'));
  return vm ? '/var/run/docker.sock' : endpoint.socketPath;
}

/** Connects and sends the label; resolves once it is acknowledged. `background`: a reconnect, which must not hold the process. */
function handshake(host: string, port: number, filter: string, background = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    const timer = setTimeout(() => fail(new Error('no ACK within 5 s')), 5000);
    if (background) { s.unref(); timer.unref(); }
    const fail = (e: Error) => { clearTimeout(timer); s.destroy(); reject(e); };
    s.on('error', fail);
    s.on('end', () => fail(new Error('the reaper closed the connection')));
    s.on('connect', () => s.write(filter));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (!got.includes('ACK\n')) return;
      clearTimeout(timer);
      s.removeAllListeners('data');
      s.removeAllListeners('end');
      s.removeAllListeners('error');
      s.on('error', () => {});
      s.setKeepAlive(true, 10_000);
      s.unref();
      resolve(s);
    });
  });
}

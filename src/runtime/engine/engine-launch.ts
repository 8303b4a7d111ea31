/**
 * The engine backend's `launchContainer`: the same `LaunchPlan` as the keeper's, turned into one engine create
 * (`engineCreateBody`, pure and unit-tested), networks connected with their aliases, files copied in, start.
 * A failure removes what was made.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, posix } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { hasStatus } from '../../engine/client.js';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import { tmpfsWords, type LaunchPlan } from '../launch-plan.js';
import { hostEntries } from '../host-entries.js';
import { CAP_NUMBERS } from '../keeper/keeper.js';
import { claimOwnName } from '../container-names.js';
import { bootTimeoutOf, MAX_TIMER_MS } from '../container-handle.js';
import { entriesOfArchive } from '../copy-archive.js';
import { resolveUser } from '../user.js';
import { EngineContainer } from './engine-container.js';
import { ensureImageWithin, type EngineImage } from './engine-image.js';
import { createWithEngineInit } from './engine-init.js';
import { logger } from '../../internal/debug.js';
import { phaseTimer } from '../../internal/phases.js';
import { engineSession, type EngineSession } from './session.js';

/** One line per start phase, as natively: DEBUG=slipway:start. */
const phaseLog = logger('start');

/** The engine's name for a slipway volume: kept volumes by their own name, others per session. */
export function engineVolumeName(name: string, keep: boolean | undefined, session: string): string {
  return keep ? name : `slipway-${session}-${name}`;
}

/** The `POST /containers/create` body for a plan (network joins other than the first are connected after). */
export function engineCreateBody(plan: LaunchPlan, image: string, labels: Record<string, string>, session: string, init = true): Record<string, unknown> {
  const key = (p: { container: number; protocol: string }) => `${p.container}/${p.protocol}`;
  const extraHosts = Object.entries(plan.extraHosts).map(([n, ip]) => `${n}:${ip}`);
  if (plan.hostAccess) for (const n of ['host.slipway.internal', ...plan.hostAccess.aliases]) extraHosts.push(`${n}:host-gateway`);
  const security: string[] = [];
  if (plan.seccomp === 'unconfined') security.push('seccomp=unconfined');
  if (plan.noNewPrivileges) security.push('no-new-privileges');
  const apiLabels = (plan as { labels?: Readonly<Record<string, string>> }).labels ?? {};
  return {
    Image: image,
    ...(plan.command ? { Cmd: [...plan.command] } : {}),
    ...(plan.entrypoint ? { Entrypoint: [...plan.entrypoint] } : {}),
    Env: Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
    ...(plan.user !== undefined ? { User: plan.user } : {}),
    ...(plan.workdir !== undefined ? { WorkingDir: plan.workdir } : {}),
    ...(plan.hostname !== undefined ? { Hostname: plan.hostname } : {}),
    ...(plan.stopSignal ? { StopSignal: plan.stopSignal } : {}),
    Labels: { ...apiLabels, ...labels },
    ExposedPorts: Object.fromEntries(plan.ports.map((p) => [key(p), {}])),
    HostConfig: {
      // slipway's init is PID 1 natively (signals forwarded, zombies reaped); the engine's own init does the same
      // (off only when the engine has none: engine-init.ts).
      Init: init,
      NetworkMode: plan.networkMode === 'isolated' ? 'bridge' : plan.networkMode,
      PortBindings: Object.fromEntries(plan.ports.map((p) => [key(p), [{ HostIp: p.hostIp, HostPort: p.host ? String(p.host) : '' }]])),
      Binds: plan.mounts.flatMap((m) => (m.kind === 'bind' ? [`${m.source}:${m.target}${m.readonly ? ':ro' : ''}`] : [])),
      Mounts: plan.mounts.flatMap((m) => (m.kind === 'volume'
        ? [{ Type: 'volume', Source: engineVolumeName(m.volume.name, m.volume.keep, session), Target: m.target, ReadOnly: m.readonly, VolumeOptions: { Labels: m.volume.keep ? { 'org.slipway.volume': m.volume.name } : { ...labels, 'org.slipway.volume': m.volume.name } } }]
        : [])),
      Tmpfs: Object.fromEntries(plan.mounts.flatMap((m) => (m.kind === 'tmpfs'
        ? [[m.target, tmpfsWords(m).join(',')]]
        : []))),
      ...(plan.memory !== undefined ? { Memory: plan.memory } : {}),
      ...(plan.memorySwap !== undefined ? { MemorySwap: plan.memorySwap } : {}),
      ...(plan.cpus !== undefined ? { NanoCpus: Math.round(plan.cpus * 1e9) } : {}),
      ...(plan.pids !== undefined ? { PidsLimit: plan.pids } : {}),
      ...(plan.shmSize !== undefined ? { ShmSize: plan.shmSize } : {}),
      Ulimits: Object.entries(plan.ulimits).map(([Name, l]) => ({ Name, Soft: l.soft, Hard: l.hard })),
      CapAdd: engineCaps(plan.capAdd),
      CapDrop: engineCaps(plan.capDrop),
      SecurityOpt: security,
      ExtraHosts: extraHosts,
    },
  };
}

/**
 * The API expands `ALL` to every capability slipway knows; an engine older than one of them (Docker 20.10 and
 * `PERFMON`, `BPF`, `CHECKPOINT_RESTORE`) refuses the whole create, so the full set goes as `ALL` (the engine's own).
 */
export function engineCaps(caps: readonly string[]): string[] {
  const all = Object.keys(CAP_NUMBERS);
  return all.every((c) => caps.includes(c)) ? ['ALL'] : [...caps];
}

const LIMIT_NAMES: Record<string, string> = {
  nofile: 'Max open files', nproc: 'Max processes', core: 'Max core file size', memlock: 'Max locked memory', stack: 'Max stack size',
  fsize: 'Max file size', cpu: 'Max cpu time', data: 'Max data size', as: 'Max address space', locks: 'Max file locks',
  sigpending: 'Max pending signals', msgqueue: 'Max msgqueue size', nice: 'Max nice priority', rtprio: 'Max realtime priority', rss: 'Max resident set',
};

/**
 * `-1` (unlimited) becomes this process's hard limit, as the keeper clamps to its own: an engine passes -1 on to the
 * kernel, which refuses it for `nofile`. Read from /proc/self/limits (Linux; elsewhere the values go as given).
 */
export function clampUlimits(ulimits: LaunchPlan['ulimits'], limitsText: string | undefined): LaunchPlan['ulimits'] {
  const hard = (name: string): number | undefined => {
    const line = limitsText?.split('\n').find((l) => l.startsWith(LIMIT_NAMES[name] ?? '\0'));
    const v = line?.slice(26).trim().split(/\s+/)[1];
    return v && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  return Object.fromEntries(Object.entries(ulimits).map(([n, l]) => {
    const h = hard(n);
    return [n, h === undefined ? l : { soft: l.soft === -1 ? h : l.soft, hard: l.hard === -1 ? h : l.hard }];
  }));
}

/**
 * Ports published on this machine's loopback by default (`127.0.0.1`) are published on every address of the engine's
 * host when this process reaches them elsewhere (a remote engine, or from inside a container through the bridge
 * gateway), as testcontainers does: the engine's loopback is not reachable from here.
 */
export function publishedFor(ports: LaunchPlan['ports'], bindIp: string | undefined): LaunchPlan['ports'] {
  return bindIp ? ports.map((p) => (p.hostIp === '127.0.0.1' ? { ...p, hostIp: bindIp } : p)) : ports;
}

/** Creates and starts a container in the engine (not yet waited for). */
export async function launchEngineContainer(
  plan: LaunchPlan, endpoint: EngineEndpoint, signal?: AbortSignal,
  reuse?: { image: EngineImage; labels: Record<string, string>; releaseName?: () => void },
): Promise<EngineContainer> {
  const what = plan.name ?? plan.image;
  const mark = phaseTimer(phaseLog, what);
  const s = await engineSession(endpoint);
  mark('engine session');
  // An implicit pull as natively: bounded by withPullTimeout()/the pullTimeout setting, cancelled by the caller's signal.
  const image = reuse?.image ?? await ensureImageWithin(s.client, plan.image, { policy: plan.pullPolicy, platform: plan.platform, signal, timeout: plan.pullTimeout })
    .catch((err: unknown) => {
      if (signal?.aborted && !(SlipwayError.is(err) && err.code === 'ERR_PULL_TIMEOUT')) {
        throw new SlipwayError('ERR_ABORTED', `start of ${what} was aborted while the engine pulled ${plan.image}; nothing of it is left`, { cause: new Error('aborted by the caller') });
      }
      throw err;
    });
  mark('image lookup');
  if (plan.networks.length > 0 && plan.networkMode !== 'isolated') {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `container ${plan.name ?? plan.image} joins a network but its network mode is "${plan.networkMode}"`, {
      hint: 'user networks need the default network mode; remove withNetworkMode() or withNetwork()',
    });
  }
  const name = plan.name ?? `slipway-${randomBytes(6).toString('hex')}`;
  refuseAsNatively(plan, name);
  // As natively, a name this process holds (its own container's, or a reused one's) is refused before the engine is asked.
  const releaseName = reuse ? reuse.releaseName : plan.name !== undefined ? claimOwnName(plan.name) : undefined;
  const planned = { ...plan, ports: publishedFor(plan.ports, s.bindIp), ulimits: clampUlimits(plan.ulimits, endpoint.kind === 'unix' ? await readFile('/proc/self/limits', 'utf8').catch(() => undefined) : undefined) };
  // As natively, the boot (create, networks, files, start; not the pull, which has its own bound) is bounded by the
  // startup timeout: at the deadline what was made is removed and start() fails with ERR_START_TIMEOUT naming the step.
  const boot = bootDeadline(bootTimeoutOf(plan), name);
  const bounded = signal ? AbortSignal.any([signal, boot.signal]) : boot.signal;
  const timedOut = (err: unknown): unknown => (boot.signal.aborted && !signal?.aborted ? boot.error() : err);
  const created = await createWithEngineInit(s.id, (init) => s.client.call<{ Id: string }>('POST', '/containers/create', {
    query: { name, platform: plan.platform }, signal: bounded,
    body: engineCreateBody(planned, image.name, reuse?.labels ?? s.labels, s.id, init),
  })).catch(async (err: unknown) => {
    releaseName?.();
    if (boot.signal.aborted && !signal?.aborted) {
      boot.done();
      // The engine may have made it before the request was cut: removed by name (else the session's sweep takes it).
      await s.client.call('DELETE', `/containers/${encodeURIComponent(name)}`, { query: { force: 1, v: 1 } }).catch(() => {});
      throw boot.error();
    }
    boot.done();
    if (hasStatus(err, 409)) throw new SlipwayError('ERR_INVALID_ARGUMENT', `a container named ${name} already exists in the engine`, { cause: err, hint: 'choose another withName() or remove the other container first' });
    if (hasStatus(err, 400) || hasStatus(err, 500)) throw new SlipwayError('ERR_CONTAINER_START', `the engine refused to create ${name}: ${(err as Error).message}`, { cause: err });
    throw err;
  });
  mark('create');
  const c = new EngineContainer({
    client: s.client, id: created.Id, name, hostname: plan.hostname ?? created.Id.slice(0, 12),
    logPath: join(s.dir, `${created.Id.slice(0, 12)}.log`), imageConfig: image.config, networks: plan.networks, local: endpoint.kind === 'unix', host: s.host,
    tmpfs: plan.mounts.flatMap((m) => (m.kind === 'tmpfs' ? [posix.normalize(m.target)] : [])),
    ...(reuse ? { reused: false } : {}), releaseName,
  });
  try {
    boot.step = 'joining its networks';
    await boot.race(joinNetworks(c, plan, s));
    mark('networks');
    boot.step = 'copying files in';
    await boot.race(copyFiles(c, plan, image.config.User));
    mark('copy in');
    if (signal?.aborted) throw signal.reason;
    boot.step = 'starting the container';
    await boot.race(c.start()).catch((err: unknown) => {
      if (boot.signal.aborted) throw err;
      const text = (err as Error).message;
      if (/port is already allocated|address already in use/.test(text)) {
        const taken = plan.ports.find((p) => p.host && text.includes(`:${p.host}`));
        // Worded as natively, naming the container port so the hint says which expose() to change.
        throw new SlipwayError('ERR_PORT_IN_USE', taken
          ? `host port ${taken.hostIp}:${taken.host}/${taken.protocol} (for container port ${taken.container}) is already in use`
          : `a host port of container ${name} is already in use`, {
          cause: err, hint: `stop whatever listens there, or let slipway pick a free port with expose(${taken ? taken.container : 'port'})`,
        });
      }
      throw hasStatus(err, 400) || hasStatus(err, 500)
        ? new SlipwayError('ERR_CONTAINER_START', `the engine could not start ${name}: ${(err as Error).message.replace(/^engine POST \S+: \d+ /, '')}`, { cause: err, hint: 'check the command (withCommand, withEntrypoint) and the image' })
        : err;
    });
    mark('start');
    boot.done();
    return c;
  } catch (err) {
    boot.done();
    await c.remove().catch(() => {});
    err = timedOut(err);
    if (signal?.aborted && !SlipwayError.is(err)) throw new SlipwayError('ERR_ABORTED', `start of ${name} was aborted; nothing of it is left`, { cause: new Error('aborted by the caller') });
    throw err;
  }
}

/** The boot's deadline: `signal` aborts at it, `race()` rejects at it, `error()` names the step it stopped at. */
function bootDeadline(ms: number, name: string) {
  const ctl = new AbortController();
  const timer = ms <= MAX_TIMER_MS ? setTimeout(() => ctl.abort(new Error(`boot deadline of ${ms} ms`)), ms) : undefined;
  const d = {
    signal: ctl.signal,
    step: 'creating the container',
    done: () => clearTimeout(timer),
    error: () => new SlipwayError('ERR_START_TIMEOUT', `container ${name} did not boot within ${ms} ms (stuck at: ${d.step}); nothing of it is left`, {
      hint: 'the engine may be overloaded or a copy very large: raise withStartupTimeout(ms); with DEBUG=slipway:* the log shows the boot steps',
    }),
    race: <T>(p: Promise<T>): Promise<T> => {
      if (ctl.signal.aborted) { p.catch(() => {}); return Promise.reject(ctl.signal.reason); }
      let onAbort!: () => void;
      const stopped = new Promise<never>((_, reject) => { onAbort = () => reject(ctl.signal.reason); ctl.signal.addEventListener('abort', onAbort, { once: true }); });
      p.catch(() => {});
      return Promise.race([p, stopped]).finally(() => ctl.signal.removeEventListener('abort', onAbort));
    },
  };
  return d;
}

/**
 * What the keeper refuses, refused before the engine is asked: Docker 20.10 ignores a `HostIp` that is not an address
 * (the port was never published and the wait timed out), refuses a bad extra-host address as a 400, and gives host
 * access to a container with no network.
 */
function refuseAsNatively(plan: LaunchPlan, name: string): void {
  for (const p of plan.ports) {
    if (isIP(p.hostIp) === 0) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid hostIp: ${JSON.stringify(p.hostIp)} (for container port ${p.container})`, {
        hint: 'expected an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::1',
      });
    }
  }
  for (const [host, ip] of Object.entries(plan.extraHosts)) {
    if (isIP(ip) === 0 && ip !== 'host-gateway') throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid address for extra host ${host}: ${JSON.stringify(ip)}`, { hint: 'give an IPv4 or IPv6 address' });
  }
  if (plan.hostAccess && plan.networkMode === 'none') {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `host access was asked for ${name}, but its network mode is "none"`, {
      hint: 'network mode "none" has only loopback; use the default mode, or remove withHostAccess()',
    });
  }
}

async function joinNetworks(c: EngineContainer, plan: LaunchPlan, s: EngineSession): Promise<void> {
  if (plan.networks.length === 0) return;
  const hostname = plan.hostname ?? c.hostname;
  for (const { network, aliases } of plan.networks) {
    const names = [...new Set([c.name, hostname, ...aliases])];
    await network.attach({ containerId: c.id, names, refreshHosts: async () => {} });
  }
  // As natively, a container on user networks is on those only.
  await s.client.call('POST', '/networks/bridge/disconnect', { body: { Container: c.id, Force: true } });
}

async function copyFiles(c: EngineContainer, plan: LaunchPlan, imageUser: string | undefined): Promise<void> {
  if (plan.files.length === 0) return;
  let ids: { uid: number; gid: number } | undefined;
  const userIds = async (spec: string): Promise<{ uid: number; gid: number }> => {
    const read = async (p: string) => {
      try {
        for await (const e of c.copyOut(p)) return e.content?.toString('utf8') ?? '';
      } catch { /* absent */ }
      return '';
    };
    return resolveUser(spec, await read('/etc/passwd'), await read('/etc/group'));
  };
  for (const f of plan.files) {
    ids ??= f.ownerOfProcess ? await userIds(plan.user || imageUser || '0') : undefined;
    const toProcess = f.ownerOfProcess && !(f.archive && ids?.uid === 0);
    const given = f.owner ? await userIds(f.owner) : toProcess ? ids : undefined;
    const owner = given ?? { uid: 0, gid: 0 };
    try {
      if (f.content) await c.copyIn([{ path: f.target, type: 'file', mode: f.mode ?? 0o644, uid: owner.uid, gid: owner.gid, content: f.content }]);
      else if (f.source) await c.copyIn(hostEntries(f.source, f.target, owner, f.mode));
      else if (f.archive) await c.copyIn(await entriesOfArchive(f.archive, f.target, given && { uid: given.uid, gid: given.gid }));
    } catch (err) {
      // As natively: a bad source is the caller's; what the engine refuses (a path below a regular file) is about the image.
      if (!SlipwayError.is(err) || ['ERR_INVALID_ARGUMENT', 'ERR_COPY_UNSAFE_PATH', 'ERR_UNSUPPORTED', 'ERR_UNPACK', 'ERR_RUNTIME_UNAVAILABLE'].includes(err.code)) throw err;
      throw new SlipwayError('ERR_CONTAINER_START', `cannot place ${f.source ? `${f.source} at ` : ''}${f.target} in ${c.name}: ${err.shortMessage}`, {
        hint: 'the target must not be below a regular file or a read-only mount of the image; pick another path with withFile()/withCopy()', cause: err,
      });
    }
  }
}

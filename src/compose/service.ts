import { existsSync, mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { Container } from '../api/container.js';
import type { PortBinding } from '../api/container-options.js';
import type { Network } from '../api/network.js';
import type { Volume } from '../api/volume.js';
import { readEnvFile } from './env-file.js';
import type { Variables } from './interpolate.js';
import type { RawService } from './load.js';
import { parseDuration } from './duration.js';

const log = logger('compose');

/**
 * Service keys that become container options. `init: true` is what slipway always does (its init is PID 1 and reaps);
 * `expose` only documents ports, which every container on a project network reaches anyway.
 */
const HONOURED = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'depends_on', 'healthcheck',
  'networks', 'volumes', 'tmpfs', 'user', 'working_dir', 'hostname', 'labels', 'stop_signal', 'stop_grace_period',
  'deploy', 'mem_limit', 'memswap_limit', 'cpus', 'pids_limit', 'scale', 'profiles', 'init', 'extra_hosts', 'cap_add',
  'cap_drop', 'ulimits', 'shm_size', 'security_opt', 'platform', 'pull_policy', 'network_mode', 'privileged', 'read_only',
  'links', 'external_links', 'secrets', 'configs',
]);

/** Keys that change nothing a test can observe on this runtime: ignored with a debug-log warning (`DEBUG=slipway:compose`). */
const IGNORED = new Set([
  'restart', 'container_name', 'logging', 'stdin_open', 'tty', 'mem_reservation', 'mem_swappiness', 'cpu_shares', 'cpu_count',
  'cpu_percent', 'cpu_period', 'cpu_quota', 'cpuset', 'oom_score_adj', 'oom_kill_disable', 'dns', 'dns_search', 'dns_opt',
  'domainname', 'annotations', 'attach', 'develop', 'pull_refresh_after', 'mac_address',
]);

/**
 * Refuses, before anything starts, a service key this runtime cannot honour (`privileged`, `devices`,
 * `network_mode: service:x`…), and logs the ones it ignores.
 * @throws SlipwayError `ERR_UNSUPPORTED` naming the service and the key.
 */
export function checkServiceKeys(name: string, svc: RawService): void {
  for (const [key, value] of Object.entries(svc)) {
    if (key.startsWith('x-')) continue;
    if (IGNORED.has(key)) {
      log('service %s: "%s" is ignored by slipway', name, key);
      continue;
    }
    let why: string | undefined;
    if (!HONOURED.has(key)) why = 'slipway runs containers in user namespaces without a daemon and has no equivalent';
    else if (key === 'privileged' && value === true) why = 'containers run in an unprivileged user namespace';
    else if (key === 'read_only' && value === true) why = 'a read-only root filesystem is not available yet';
    else if (key === 'network_mode' && !['bridge', 'default', 'none', 'host'].includes(String(value))) why = `network_mode ${JSON.stringify(value)} (sharing another container's namespace) is not available`;
    if (why) {
      throw new SlipwayError('ERR_UNSUPPORTED', `service ${name}: "${key}" is not supported: ${why}`, {
        hint: `remove "${key}" from service ${name} (for example in an override file loaded only by the tests)`,
      });
    }
  }
}

/**
 * The snapshot options of a service (`ComposeEnvironment.withSnapshots()`), from its `x-slipway.snapshot`
 * (`true`, `false` or `{ salt }`) and the environment's choice: `asked` (withSnapshots() covers it), `named` (it
 * was named there, which wins over `snapshot: false`).
 * @throws SlipwayError `ERR_COMPOSE_INVALID` for an `x-slipway` that is not `{ snapshot: true | false | { salt: string } }`.
 */
export function snapshotOf(name: string, svc: RawService, asked: boolean, named: boolean): { salt?: string } | undefined {
  const x = svc['x-slipway'];
  const bad = (why: string) => new SlipwayError('ERR_COMPOSE_INVALID', `service ${name}: x-slipway: ${why}`, {
    hint: 'write x-slipway: { snapshot: true }, { snapshot: false } or { snapshot: { salt: "v2" } }',
  });
  let own: boolean | { salt?: string } | undefined;
  if (x !== undefined && x !== null) {
    if (typeof x !== 'object' || Array.isArray(x)) throw bad(`${JSON.stringify(x)} is not a mapping`);
    for (const k of Object.keys(x)) if (k !== 'snapshot') throw bad(`unknown key "${k}" (known: snapshot)`);
    const v = (x as { snapshot?: unknown }).snapshot;
    if (v === undefined || typeof v === 'boolean') own = v;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k, val] of Object.entries(v)) {
        if (k !== 'salt') throw bad(`snapshot: unknown key "${k}" (known: salt)`);
        if (typeof val !== 'string') throw bad(`snapshot.salt: ${JSON.stringify(val)} is not a string`);
      }
      own = { ...(v as { salt?: string }) };
    } else throw bad(`snapshot: ${JSON.stringify(v)} is not true, false or { salt }`);
  }
  if (named) return typeof own === 'object' ? own : {};
  if (own === false) return undefined;
  if (typeof own === 'object') return own;
  return own === true || asked ? {} : undefined;
}

/** A service's `pull_policy` as slipway's pull policy (`if_not_present` is `missing`, `build` is `never`); undefined when not given. */
export function pullPolicyOf(svc: RawService): 'always' | 'never' | 'missing' | undefined {
  if (svc.pull_policy === undefined) return undefined;
  return ({ always: 'always', never: 'never', missing: 'missing', if_not_present: 'missing', build: 'never' } as Record<string, 'always' | 'never' | 'missing'>)[String(svc.pull_policy)];
}

/** How many containers a service runs: `deploy.replicas`, else `scale`, else 1. */
export function replicasOf(svc: RawService): number {
  const deploy = svc.deploy as { replicas?: number } | undefined;
  const n = deploy?.replicas ?? (svc.scale as number | undefined) ?? 1;
  return Number(n);
}

/** What a service's containers are made from, once networks, volumes and the built image exist. */
export interface ServiceContext {
  project: string;
  vars: Variables;
  /** Compose network key → started Network. */
  networks: ReadonlyMap<string, Network>;
  /** Compose volume key → Volume. */
  volumes: ReadonlyMap<string, Volume>;
  /** Creates an anonymous volume for a mount of replica `index` (removed with the project's volumes). */
  anonymousVolume: (service: string, index: number, target: string) => Volume;
  /** The image to run (the built one when the service has `build`). */
  image: string;
  /** Top-level secrets and configs. */
  secrets: Readonly<Record<string, Record<string, unknown>>>;
  configs: Readonly<Record<string, Record<string, unknown>>>;
  /** A host file holding `content` for a secret or config that is not a file (`environment:`, `content:`), mounted read-only. */
  materialize: (kind: 'secrets' | 'configs', name: string, content: string) => string;
}

/**
 * Maps one replica of a service to a {@link Container} builder, option by option (the Compose Specification's
 * services.md meanings, Docker's defaults).
 * @throws SlipwayError `ERR_COMPOSE_INVALID` for a value the container options refuse (naming service and key).
 */
export function serviceContainer(ctx: ServiceContext, name: string, svc: RawService, index: number): Container {
  const at = (key: string) => `service ${name}: ${key}`;
  const step = <T>(key: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (SlipwayError.is(e) && e.code !== 'ERR_INVALID_ARGUMENT') throw e;
      throw new SlipwayError('ERR_COMPOSE_INVALID', `${at(key)}: ${SlipwayError.is(e) ? e.shortMessage : (e as Error).message}`, { hint: SlipwayError.is(e) ? e.hint : undefined, cause: e });
    }
  };
  let c = new Container(ctx.image).withName(`${ctx.project}-${name}-${index}`);
  c = c.withLabels({
    'com.docker.compose.project': ctx.project, 'com.docker.compose.service': name, 'com.docker.compose.container-number': String(index),
  });
  if (svc.command !== undefined && svc.command !== null) c = step('command', () => c.withCommand(argv(svc.command)));
  if (svc.entrypoint !== undefined && svc.entrypoint !== null) c = step('entrypoint', () => c.withEntrypoint(argv(svc.entrypoint)));
  const env: Record<string, string> = {};
  for (const f of (svc.env_file as { path: string; required: boolean }[] | undefined) ?? []) {
    if (!f.required && !existsSync(f.path)) continue;
    Object.assign(env, readEnvFile(f.path, ctx.vars));
  }
  for (const [k, v] of Object.entries((svc.environment as Record<string, string | null> | undefined) ?? {})) {
    const value = v ?? ctx.vars[k];
    if (value !== undefined) env[k] = value;
  }
  if (Object.keys(env).length) c = step('environment', () => c.withEnv(env));
  if (svc.user !== undefined) c = step('user', () => c.withUser(String(svc.user)));
  if (svc.working_dir !== undefined) c = step('working_dir', () => c.withWorkdir(String(svc.working_dir)));
  if (svc.hostname !== undefined) c = step('hostname', () => c.withHostname(String(svc.hostname)));
  if (svc.labels) c = step('labels', () => c.withLabels(svc.labels as Record<string, string>));
  if (svc.stop_signal !== undefined) c = step('stop_signal', () => c.withStopSignal(String(svc.stop_signal)));
  if (svc.extra_hosts) {
    const hosts: Record<string, string> = {};
    for (const [h, ip] of Object.entries(svc.extra_hosts as Record<string, string>)) hosts[h] = String(ip).replace(/^\[(.*)\]$/, '$1');
    c = step('extra_hosts', () => c.withExtraHosts(hosts));
  }
  if (Array.isArray(svc.cap_add) && svc.cap_add.length) c = step('cap_add', () => c.withAddedCapabilities(...(svc.cap_add as string[])));
  if (Array.isArray(svc.cap_drop) && svc.cap_drop.length) c = step('cap_drop', () => c.withDroppedCapabilities(...(svc.cap_drop as string[])));
  if (svc.ulimits) c = step('ulimits', () => c.withUlimits(svc.ulimits as Record<string, { soft: number; hard: number }>));
  if (svc.shm_size !== undefined) c = step('shm_size', () => c.withShmSize(svc.shm_size as string));
  if (Array.isArray(svc.security_opt) && svc.security_opt.length) c = step('security_opt', () => c.withSecurityOpt(...(svc.security_opt as string[])));
  if (svc.platform !== undefined) c = step('platform', () => c.withPlatform(String(svc.platform)));
  const policy = pullPolicyOf(svc);
  if (policy && !svc.build) c = c.withPullPolicy(policy);
  // Limits: the top-level keys and deploy.resources.limits (deploy wins, as in compose).
  const limits = ((svc.deploy as { resources?: { limits?: Record<string, unknown> } } | undefined)?.resources?.limits) ?? {};
  const memory = limits.memory ?? svc.mem_limit;
  if (memory !== undefined) c = step('mem_limit', () => c.withMemory(memory as string));
  if (svc.memswap_limit !== undefined) c = step('memswap_limit', () => c.withMemorySwap(svc.memswap_limit as string));
  const cpus = limits.cpus ?? svc.cpus;
  if (cpus !== undefined) c = step('cpus', () => c.withCpus(cpus as string));
  const pids = limits.pids ?? svc.pids_limit;
  if (pids !== undefined && Number(pids) > 0) c = step('pids_limit', () => c.withPids(Number(pids)));
  c = healthcheck(c, svc, step);
  c = ports(c, svc, step);
  c = mounts(c, ctx, name, svc, index, step);
  c = secretsAndConfigs(c, ctx, name, svc, step);
  const mode = svc.network_mode as string | undefined;
  if (mode === 'none' || mode === 'host') {
    c = c.withNetworkMode(mode);
  } else {
    const nets = (svc.networks as Record<string, { aliases?: string[] }> | undefined) ?? { default: {} };
    const links = [...((svc.links as string[] | undefined) ?? [])].map((l) => l.split(':')[1]).filter((a): a is string => !!a);
    for (const [key, cfg] of Object.entries(nets)) {
      const net = ctx.networks.get(key);
      if (!net) throw new SlipwayError('ERR_COMPOSE_INVALID', `${at('networks')}: network "${key}" is not defined in the top-level networks`, { hint: `declare it under networks: at the top level` });
      const aliases = [...new Set([name, ...((cfg?.aliases as string[] | undefined) ?? []), ...links])];
      c = step(`networks.${key}.aliases`, () => c.withNetwork(net, { aliases }));
    }
  }
  const grace = svc.stop_grace_period === undefined ? undefined : parseDuration(String(svc.stop_grace_period), at('stop_grace_period'));
  if (grace !== undefined) c = new Container(c.options.image, { ...c.options, stopTimeout: grace });
  return c;
}

type Step = <T>(key: string, f: () => T) => T;

function healthcheck(c: Container, svc: RawService, step: Step): Container {
  const hc = svc.healthcheck as Record<string, unknown> | undefined;
  if (!hc) return c;
  const where = (k: string) => `healthcheck.${k}`;
  if (hc.disable === true) return step(where('disable'), () => c.withHealthCheck({ test: ['NONE'] }));
  let test: string[] | undefined;
  if (typeof hc.test === 'string') test = ['CMD-SHELL', hc.test];
  else if (Array.isArray(hc.test)) test = hc.test.map(String);
  const ms = (k: string) => (hc[k] === undefined ? undefined : parseDuration(String(hc[k]), where(k)));
  if (!test) {
    // Only timings: compose keeps the image's test; ours needs it at start, so the image's HEALTHCHECK applies with its own timings.
    log('healthcheck without test: the image HEALTHCHECK is used with its own timings');
    return c;
  }
  return step(where('test'), () => c.withHealthCheck({
    test, interval: ms('interval'), timeout: ms('timeout'), startPeriod: ms('start_period'), startInterval: ms('start_interval'),
    retries: hc.retries === undefined ? undefined : Number(hc.retries),
  }));
}

/** `[HOST_IP:][HOST_PORT[-HOST_PORT]:]CONTAINER_PORT[-CONTAINER_PORT][/PROTOCOL]` and the long syntax → bindings. */
export function parsePorts(entries: readonly unknown[], where = 'ports'): PortBinding[] {
  const out: PortBinding[] = [];
  const bad = (e: unknown, why: string) => new SlipwayError('ERR_COMPOSE_INVALID', `${where}: ${JSON.stringify(e)}: ${why}`, {
    hint: 'write "8080:80", "127.0.0.1:8080:80", "8000-8001:80-81", "53:53/udp", "80", or { target: 80, published: "8080", host_ip: "127.0.0.1" }',
  });
  const range = (s: string, e: unknown): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) throw bad(e, `"${s}" is not a port or range`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 0 || hi > 65535 || hi < lo) throw bad(e, `"${s}" is out of range`);
    return [lo, hi];
  };
  for (const e of entries) {
    let ip = '';
    let host = '';
    let target: string;
    let proto = 'tcp';
    if (typeof e === 'object' && e !== null) {
      const p = e as { target: number | string; published?: number | string; host_ip?: string; protocol?: string };
      target = String(p.target);
      host = p.published === undefined ? '' : String(p.published);
      ip = p.host_ip ?? '';
      proto = p.protocol ?? 'tcp';
    } else {
      let s = String(e);
      const slash = s.lastIndexOf('/');
      if (slash >= 0) {
        proto = s.slice(slash + 1);
        s = s.slice(0, slash);
      }
      const v6 = /^\[([^\]]+)\]:(.*)$/.exec(s);
      if (v6) {
        ip = v6[1]!;
        s = v6[2]!;
      }
      const parts = s.split(':');
      if (!v6 && parts.length === 3) ip = parts.shift()!;
      if (parts.length > 2 || (v6 && parts.length !== 2)) throw bad(e, 'too many ":" (write an IPv6 host address in brackets)');
      target = parts.pop()!;
      host = parts.pop() ?? '';
    }
    if (proto !== 'tcp' && proto !== 'udp') throw bad(e, `protocol "${proto}" is not supported (tcp or udp)`);
    if (ip !== '' && isIP(ip) === 0) throw bad(e, `"${ip}" is not an IP address`);
    const [tlo, thi] = range(target, e);
    const [hlo, hhi] = host === '' ? [0, 0] : range(host, e);
    const count = thi - tlo + 1;
    if (host !== '' && hhi - hlo + 1 !== count && count !== 1) throw bad(e, 'the host and container ranges differ in length');
    for (let i = 0; i < count; i++) {
      // A host range for one container port: compose picks a free one; we take the first (fixed) port of the range.
      const h = host === '' ? 0 : count === 1 ? hlo : hlo + i;
      out.push({ container: tlo + i, protocol: proto, host: h, hostIp: ip || '127.0.0.1' });
    }
  }
  return out;
}

function ports(c: Container, svc: RawService, step: Step): Container {
  if (!Array.isArray(svc.ports)) return c;
  for (const p of parsePorts(svc.ports, 'ports')) c = step('ports', () => c.expose(p));
  return c;
}

function mounts(c: Container, ctx: ServiceContext, name: string, svc: RawService, index: number, step: Step): Container {
  for (const v of (svc.volumes as Record<string, unknown>[] | undefined) ?? []) {
    const target = String(v.target);
    const ro = v.read_only === true;
    switch (v.type) {
      case 'bind': {
        const source = String(v.source);
        const create = (v.bind as { create_host_path?: boolean } | undefined)?.create_host_path ?? true;
        if (!existsSync(source)) {
          if (!create) throw new SlipwayError('ERR_COMPOSE_INVALID', `service ${name}: volumes: bind source ${source} does not exist`, { hint: 'create it, or set bind.create_host_path: true' });
          mkdirSync(source, { recursive: true });
        }
        c = step('volumes', () => c.withBind(source, target, { readonly: ro }));
        break;
      }
      case 'volume': {
        let vol: Volume;
        if (v.source === undefined || v.source === '') vol = ctx.anonymousVolume(name, index, target);
        else {
          const found = ctx.volumes.get(String(v.source));
          if (!found) throw new SlipwayError('ERR_COMPOSE_INVALID', `service ${name}: volumes: named volume "${String(v.source)}" is not declared in the top-level volumes`, { hint: `add it under volumes: at the top level` });
          vol = found;
        }
        c = step('volumes', () => c.withVolume(vol, target, { readonly: ro }));
        break;
      }
      case 'tmpfs': {
        // Docker mounts a tmpfs of the Mounts API as it does `--tmpfs`: over noexec,nosuid,nodev.
        const t = (v.tmpfs ?? {}) as { size?: number | string; mode?: number | string };
        const mode = t.mode === undefined ? undefined : typeof t.mode === 'number' ? t.mode : parseInt(String(t.mode), 8);
        c = step('volumes', () => c.withTmpfs(target, { size: t.size, mode, readonly: ro, options: 'noexec,nosuid,nodev' }));
        break;
      }
      default:
        throw new SlipwayError('ERR_UNSUPPORTED', `service ${name}: volumes: type "${String(v.type)}" is not supported`, { hint: 'use a bind mount, a named volume or tmpfs' });
    }
  }
  const tmpfs = Array.isArray(svc.tmpfs) ? (svc.tmpfs as string[]) : [];
  for (const t of tmpfs) {
    // `path[:options]`, Docker's HostConfig.Tmpfs: every option applies over Docker's noexec,nosuid,nodev.
    const [path, opts = ''] = t.split(/:(.*)/s) as [string, string?];
    c = step('tmpfs', () => c.withTmpfs(path, { options: `noexec,nosuid,nodev,${opts}` }));
  }
  return c;
}

/**
 * `secrets` at `/run/secrets/<target or source>` and `configs` at their `target` (default `/<source>`), each a
 * read-only bind of the file (or of a file written with the `environment`/`content` value), as Compose does without
 * Swarm. `uid`/`gid`/`mode` cannot change a bind-mounted file and are ignored with a log line, as Compose does.
 */
function secretsAndConfigs(c: Container, ctx: ServiceContext, name: string, svc: RawService, step: Step): Container {
  for (const kind of ['secrets', 'configs'] as const) {
    for (const ref of (svc[kind] as { source: string; target?: string; uid?: unknown; gid?: unknown; mode?: unknown }[] | undefined) ?? []) {
      const def = ctx[kind][ref.source];
      const at = `service ${name}: ${kind}.${ref.source}`;
      if (!def) throw new SlipwayError('ERR_COMPOSE_INVALID', `${at}: "${ref.source}" is not declared in the top-level ${kind}`, { hint: `add it under ${kind}: at the top level with file: (or environment:${kind === 'configs' ? ' or content:' : ''})` });
      if (def.external !== undefined && def.external !== false) {
        throw new SlipwayError('ERR_UNSUPPORTED', `${at}: external ${kind} need Swarm`, { hint: `declare it with file: instead` });
      }
      if (ref.uid !== undefined || ref.gid !== undefined || ref.mode !== undefined) log('%s: uid, gid and mode are ignored for a file-backed %s (as in docker compose)', at, kind.slice(0, -1));
      let source: string;
      if (typeof def.file === 'string') {
        source = def.file;
        if (!existsSync(source)) throw new SlipwayError('ERR_COMPOSE_INVALID', `${at}: file ${source} does not exist`, { hint: 'create it, or fix the path (relative to the compose file)' });
      } else if (typeof def.environment === 'string') {
        const value = ctx.vars[def.environment];
        if (value === undefined) throw new SlipwayError('ERR_COMPOSE_INVALID', `${at}: variable ${def.environment} is not set`, { hint: `set ${def.environment} (environment, .env or withEnvironment)` });
        source = ctx.materialize(kind, ref.source, value);
      } else if (kind === 'configs' && typeof def.content === 'string') {
        source = ctx.materialize(kind, ref.source, def.content);
      } else {
        throw new SlipwayError('ERR_COMPOSE_INVALID', `${at}: the top-level definition has no file:${kind === 'configs' ? ', content:' : ''} or environment:`, { hint: 'give it a source' });
      }
      const target = kind === 'secrets'
        ? (ref.target?.startsWith('/') ? ref.target : `/run/secrets/${ref.target ?? ref.source}`)
        : (ref.target ?? `/${ref.source}`);
      c = step(`${kind}.${ref.source}`, () => c.withBind(source, target, { readonly: true }));
    }
  }
  return c;
}

/** `command`/`entrypoint`: a list as given, a string split as compose does (shell words, no shell). */
export function argv(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  return shellSplit(String(v));
}

/** Splits like POSIX shell words (quotes and backslashes), without expansion: compose's `shlex.Split`. */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new SlipwayError('ERR_COMPOSE_INVALID', `unterminated single quote in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      has = true;
      i = end;
    } else if (ch === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1]!)) i++;
        cur += s[i];
        i++;
      }
      if (i >= s.length) throw new SlipwayError('ERR_COMPOSE_INVALID', `unterminated double quote in ${JSON.stringify(s)}`);
      has = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { SlipwayError, invalidArgument } from '../errors.js';
import { logger } from '../internal/debug.js';
import { configValue, withSettings } from '../config/index.js';
import { Container } from '../api/container.js';
import { pull } from '../api/pull.js';
import { Network } from '../api/network.js';
import type { StartedContainer } from '../api/started-container.js';
import { fileDigest } from '../api/snapshot.js';
import { Volume } from '../api/volume.js';
import { Wait, type WaitStrategy } from '../api/wait/index.js';
import { processStateDir, runtimeBackend } from '../runtime/index.js';
import { readEnvFile } from './env-file.js';
import type { Variables } from './interpolate.js';
import { loadCompose, type ComposeDocument } from './load.js';
import { dependenciesOf, selectServices } from './project.js';
import { checkServiceKeys, pullPolicyOf, replicasOf, serviceContainer, snapshotOf } from './service.js';
import { StartedComposeEnvironment, type ComposeResources } from './started-compose-environment.js';

const log = logger('compose');
const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];
const PROJECT = /^[a-z0-9][a-z0-9_-]*$/;
const LAST_LOG_LINES = 30;

interface Settings {
  dir: string;
  files: readonly string[];
  env: Readonly<Record<string, string>>;
  envFile?: string;
  profiles: readonly string[];
  waits: ReadonlyMap<string, WaitStrategy>;
  defaultWait?: WaitStrategy;
  startupTimeout?: number;
  build: boolean;
  projectName?: string;
  pullPolicy?: 'missing' | 'always' | 'never';
  keepVolumes?: boolean;
  /** `withSnapshots()`: every service (`'all'`) or the named ones. */
  snapshots?: 'all' | readonly string[];
}

/**
 * A Compose project (`compose.yaml` and overrides) to start on slipway's runtime, as `docker compose up` would:
 * files merged and interpolated, services started in `depends_on` order (independent ones in parallel), each waited
 * for, and everything removed again by `down()` or `await using`. Every `with*` returns a new builder.
 *
 * Published ports bind 127.0.0.1 unless a `host_ip` is given. Service names and aliases resolve on the project's
 * networks. Keys this runtime cannot honour (`privileged`, `devices`, `network_mode: service:x`…) fail with
 * `ERR_UNSUPPORTED` before anything starts; harmless ones (`restart`, `container_name`, `logging`) are ignored with a
 * debug-log line (`DEBUG=slipway:compose`).
 *
 * @example
 * import { ComposeEnvironment, Wait } from 'slipway';
 * await using env = await new ComposeEnvironment('./deploy', ['compose.yml', 'compose.test.yml'])
 *   .withEnvironment({ TAG: 'test' }).withProfiles('db')
 *   .withWaitStrategy('api-1', Wait.forHttp('/health', 8080))
 *   .up(['api']);
 * const port = env.getContainer('api-1').getMappedPort(8080);
 */
export class ComposeEnvironment {
  #s: Settings;

  /**
   * @param dir - The project directory: files, `.env`, build contexts and relative bind mounts are read from it.
   * @param files - Compose files in merge order. @defaultValue the first of compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml
   */
  constructor(dir: string, files?: string | readonly string[]) {
    if (typeof dir !== 'string' || dir === '') throw invalidArgument('compose directory', dir, 'the project directory');
    const list = files === undefined ? [] : typeof files === 'string' ? [files] : [...files];
    if (list.some((f) => typeof f !== 'string' || f === '')) throw invalidArgument('compose files', files, 'file names such as "compose.yml"');
    this.#s = { dir: resolve(dir), files: list, env: {}, profiles: [], waits: new Map(), build: false };
  }

  #with(patch: Partial<Settings>): ComposeEnvironment {
    const e = new ComposeEnvironment(this.#s.dir, this.#s.files);
    e.#s = { ...this.#s, ...patch };
    return e;
  }

  /** Variables for interpolation; they win over the process environment and `.env`. */
  withEnvironment(env: Record<string, string>): ComposeEnvironment {
    for (const [k, v] of Object.entries(env ?? {})) if (typeof v !== 'string') throw invalidArgument(`environment ${k}`, v, 'a string');
    return this.#with({ env: { ...this.#s.env, ...env } });
  }
  /** Reads interpolation variables from this file (relative to the project directory) instead of `.env`. */
  withEnvironmentFile(file: string): ComposeEnvironment {
    if (typeof file !== 'string' || file === '') throw invalidArgument('environment file', file, 'a path such as ".env.test"');
    return this.#with({ envFile: file });
  }
  /** Activates profiles (as `--profile`), in addition to `COMPOSE_PROFILES`. */
  withProfiles(...profiles: string[]): ComposeEnvironment { return this.#with({ profiles: [...this.#s.profiles, ...profiles] }); }
  /**
   * Replaces the wait for one container, named `<service>-<n>` (`api-1`) or by its service (every replica).
   * @defaultValue the service's health check (its `healthcheck`, else the image's), else its published ports listening
   */
  withWaitStrategy(container: string, wait: WaitStrategy): ComposeEnvironment {
    const waits = new Map(this.#s.waits);
    waits.set(container, wait);
    return this.#with({ waits });
  }
  /** The wait for every container without its own {@link withWaitStrategy}. */
  withDefaultWaitStrategy(wait: WaitStrategy): ComposeEnvironment { return this.#with({ defaultWait: wait }); }
  /** Bounds each container's wait. @defaultValue the `startupTimeout` setting, else 60000 */
  withStartupTimeout(ms: number): ComposeEnvironment {
    if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw invalidArgument('startupTimeout', ms, 'a number of milliseconds >= 0');
    return this.#with({ startupTimeout: ms });
  }
  /** Services with `build:` are built with slipway's Dockerfile builder (they always are; kept for testcontainers' name). */
  withBuild(): ComposeEnvironment { return this.#with({ build: true }); }
  /** The project name: prefixes containers, networks and volumes. @defaultValue the file's `name`, `COMPOSE_PROJECT_NAME`, else `<directory>-<random>` */
  withProjectName(name: string): ComposeEnvironment {
    if (typeof name !== 'string' || !PROJECT.test(name)) throw invalidArgument('project name', name, 'lowercase letters, digits, "_" and "-", starting with a letter or digit');
    return this.#with({ projectName: name });
  }
  /** Pull policy for every service's image (a service's `pull_policy` wins). */
  withPullPolicy(policy: 'missing' | 'always' | 'never'): ComposeEnvironment {
    if (!['missing', 'always', 'never'].includes(policy)) throw invalidArgument('pull policy', policy, '"missing", "always" or "never"');
    return this.#with({ pullPolicy: policy });
  }

  /**
   * Named volumes live in the store (`Volume.named(name, { keep: true })`) and outlive this process, as Docker's do,
   * until `down({ removeVolumes: true })`; `slipway compose` uses this. Anonymous volumes still go with the process.
   * @defaultValue off: named volumes outlive `down()` but not the process (nothing is left behind by a test run)
   */
  withPersistentVolumes(): ComposeEnvironment { return this.#with({ keepVolumes: true }); }

  /**
   * Starts services from snapshots of their initialised state ({@link Container.withSnapshot}, with its key rules:
   * image digest and layers, env, command, entrypoint, user, workdir, files, mount targets): the first `up()` runs
   * each service's init (initdb, seed scripts) once, waits for it, stops it with its stop signal (it must exit with
   * code 0), stores its writable layer and starts it again from it; later `up()`s of the same configuration, in any
   * process or project, skip the init. Without names, every service; with names, those. A service opts in or out in
   * the file with `x-slipway: { snapshot: true | false | { salt: "v2" } }` (an extension key: other Compose tools
   * ignore it); names given here win over `snapshot: false`. Data under volumes and bind mounts is not in a snapshot.
   * Needs the native runtime.
   * @defaultValue off (`x-slipway` in the file still applies)
   * @throws SlipwayError (at `up()`) `ERR_COMPOSE_INVALID` for a name that is not a service, `ERR_COMPOSE_SERVICE`
   *   with an `ERR_SNAPSHOT` cause when a service does not shut down cleanly for its snapshot.
   * @example
   * import { ComposeEnvironment } from 'slipway';
   * await using env = await new ComposeEnvironment('./deploy').withSnapshots('db', 'cache').up();
   */
  withSnapshots(...services: string[]): ComposeEnvironment {
    for (const n of services) if (typeof n !== 'string' || n === '') throw invalidArgument('snapshot service', n, 'a service name such as "db"');
    return this.#with({ snapshots: services.length ? services : 'all' });
  }

  /** The interpolation variables: `.env` (or the file given) < the process environment < {@link withEnvironment}. */
  variables(): Variables {
    const file = resolve(this.#s.dir, this.#s.envFile ?? '.env');
    const fromFile = this.#s.envFile !== undefined || existsSync(file) ? readEnvFile(file, process.env) : {};
    return { ...fromFile, ...process.env, ...this.#s.env };
  }

  /**
   * The merged, interpolated and validated project, as `docker compose config` shows it (list forms turned into maps,
   * paths absolute). Reads the files; starts nothing.
   * @throws SlipwayError `ERR_COMPOSE_INVALID`.
   */
  config(): ComposeDocument {
    return loadCompose(this.#s.dir, this.#files(), this.variables());
  }

  #files(): readonly string[] {
    if (this.#s.files.length) return this.#s.files;
    const found = DEFAULT_FILES.find((f) => existsSync(resolve(this.#s.dir, f)));
    if (!found) throw new SlipwayError('ERR_COMPOSE_INVALID', `no compose file in ${this.#s.dir}`, { hint: `add ${DEFAULT_FILES[0]} or name the files: new ComposeEnvironment(dir, ['my-compose.yml'])` });
    return [found];
  }

  /**
   * Starts the named services and what they depend on (default: every service the active profiles enable): networks
   * and volumes first, images built or pulled, then each service once its dependencies meet their `depends_on`
   * conditions, its replicas in parallel, each waited for.
   * @throws SlipwayError `ERR_COMPOSE_INVALID` (files, names), `ERR_UNSUPPORTED` (a key this runtime cannot honour),
   *   `ERR_COMPOSE_SERVICE` (a service failed to start, to become ready or healthy, or a `service_completed_successfully`
   *   dependency exited non-zero: names the service and what was waited for; details hold its last log lines);
   *   everything started is removed first.
   */
  async up(services?: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<StartedComposeEnvironment> {
    // One reading of the settings for every service's pull, build and start.
    return withSettings(() => this.#up(services, opts));
  }

  async #up(services: readonly string[] | undefined, opts: { signal?: AbortSignal }): Promise<StartedComposeEnvironment> {
    const vars = this.variables();
    const doc = loadCompose(this.#s.dir, this.#files(), vars);
    const project = this.#projectName(doc, vars);
    const profiles = [...this.#s.profiles, ...(vars.COMPOSE_PROFILES ?? '').split(',').map((p) => p.trim()).filter(Boolean)];
    const names = selectServices(doc, profiles, services);
    for (const n of names) checkServiceKeys(n, doc.services[n]!);
    for (const n of names) snapshotOf(n, doc.services[n]!, false, false); // a bad x-slipway fails before anything starts
    const snap = this.#s.snapshots;
    if (Array.isArray(snap)) {
      for (const n of snap) if (!names.includes(n)) throw new SlipwayError('ERR_COMPOSE_INVALID', `withSnapshots(): "${n}" is not a service of this up()`, { hint: `name one of: ${names.join(', ')}` });
    }
    const snapshotsOff = await snapshotsOnEngine(names.filter((n) => snapshotOf(n, doc.services[n]!, false, false) !== undefined), names.filter((n) => {
      const named = Array.isArray(snap) && snap.includes(n);
      return (named || snap === 'all') && snapshotOf(n, doc.services[n]!, true, named) !== undefined;
    }));
    for (const n of names) {
      const svc = doc.services[n]!;
      if (svc.image === undefined && svc.build === undefined) throw new SlipwayError('ERR_COMPOSE_INVALID', `service ${n} has neither image nor build`, { hint: 'give it an image: or a build:' });
    }
    const res: ComposeResources = { project, containers: new Map(), networks: [], volumes: [], files: [] };
    const abort = new AbortController();
    const onAbort = () => abort.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const networks = await this.#networks(doc, project, names, res);
      const volumes = this.#volumes(doc, project, res);
      await this.#start(doc, project, names, vars, networks, volumes, res, abort, snapshotsOff);
    } catch (err) {
      abort.abort(err);
      await new StartedComposeEnvironment(res).down({ removeVolumes: true }).catch((e) => log('teardown after failed up: %O', e));
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return new StartedComposeEnvironment(res);
  }

  #projectName(doc: ComposeDocument, vars: Variables): string {
    const given = this.#s.projectName ?? (doc.name as string | undefined) ?? vars.COMPOSE_PROJECT_NAME;
    if (given !== undefined) {
      if (!PROJECT.test(given)) throw invalidArgument('project name', given, 'lowercase letters, digits, "_" and "-", starting with a letter or digit');
      return given;
    }
    // Unique per up(): tests start the same file many times in one process, where names must not clash.
    const base = basename(this.#s.dir).toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '').slice(0, 40) || 'compose';
    return `${base}-${randomBytes(3).toString('hex')}`;
  }

  async #networks(doc: ComposeDocument, project: string, names: string[], res: ComposeResources): Promise<Map<string, Network>> {
    const used = new Set<string>();
    for (const n of names) {
      const svc = doc.services[n]!;
      if (svc.network_mode === 'host' || svc.network_mode === 'none') continue;
      for (const k of Object.keys((svc.networks as object | undefined) ?? { default: {} })) used.add(k);
    }
    const out = new Map<string, Network>();
    const starts: Promise<unknown>[] = [];
    for (const key of used) {
      const def = doc.networks[key] ?? (key === 'default' ? {} : undefined);
      if (!def) throw new SlipwayError('ERR_COMPOSE_INVALID', `network "${key}" is used by a service but not defined in the top-level networks`, { hint: `declare it under networks: at the top level` });
      const name = (def.name as string | undefined) ?? `${project}_${key}`;
      if (def.external === true) {
        const found = Network.byName(name);
        if (!found) throw new SlipwayError('ERR_COMPOSE_INVALID', `external network ${name} does not exist in this process`, { hint: `create it first: await Network.create({ name: '${name}' })` });
        out.set(key, found);
        continue;
      }
      if (def.driver !== undefined && def.driver !== 'bridge') {
        throw new SlipwayError('ERR_UNSUPPORTED', `network ${key}: driver "${String(def.driver)}" is not supported`, { hint: 'remove driver: (slipway networks are bridges)' });
      }
      for (const k of ['ipam', 'driver_opts', 'enable_ipv6']) if (def[k] !== undefined) log('network %s: "%s" is ignored', key, k);
      const net = new Network({ name });
      res.networks.push(net);
      starts.push(net.start());
      out.set(key, net);
    }
    // Started together; a failure leaves the others in res.networks for the teardown.
    const results = await Promise.allSettled(starts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return out;
  }

  #volumes(doc: ComposeDocument, project: string, res: ComposeResources): Map<string, Volume> {
    const out = new Map<string, Volume>();
    for (const [key, def] of Object.entries(doc.volumes)) {
      if (def.driver !== undefined && def.driver !== 'local') throw new SlipwayError('ERR_UNSUPPORTED', `volume ${key}: driver "${String(def.driver)}" is not supported`, { hint: 'remove driver: (slipway volumes are directories)' });
      if (def.driver_opts !== undefined) throw new SlipwayError('ERR_UNSUPPORTED', `volume ${key}: driver_opts are not supported`, { hint: 'use a bind mount in the service instead' });
      const external = def.external === true;
      const name = (def.name as string | undefined) ?? (external ? key : `${project}_${key}`);
      const v = Volume.named(name, this.#s.keepVolumes && !external ? { keep: true } : {});
      if (!external) res.volumes.push(v);
      out.set(key, v);
    }
    return out;
  }

  async #start(doc: ComposeDocument, project: string, names: string[], vars: Variables, networks: Map<string, Network>, volumes: Map<string, Volume>,
    res: ComposeResources, abort: AbortController, snapshotsOff: boolean): Promise<void> {
    // What each service must reach before its dependents go: healthy and completed need their own wait.
    const needs = new Map<string, Set<string>>();
    for (const n of names) {
      for (const [dep, d] of Object.entries(dependenciesOf(doc.services[n]!))) {
        if (!names.includes(dep)) continue;
        if (!needs.has(dep)) needs.set(dep, new Set());
        needs.get(dep)!.add(d.condition);
      }
    }
    const images = new Map<string, string>();
    for (const n of names) {
      const svc = doc.services[n]!;
      if (!svc.build) continue;
      const b = svc.build as { context: string; dockerfile?: string; args?: Record<string, string | null>; target?: string };
      const args: Record<string, string> = {};
      for (const [k, v] of Object.entries(b.args ?? {})) {
        const value = v ?? vars[k];
        if (value !== undefined) args[k] = value;
      }
      for (const k of Object.keys(b)) if (!['context', 'dockerfile', 'args', 'target'].includes(k)) log('service %s: build.%s is ignored', n, k);
      log('service %s: building %s', n, b.context);
      try {
        images.set(n, await Container.fromDockerfile(b.context, {
          dockerfile: b.dockerfile, buildArgs: args, target: b.target, signal: abort.signal,
          tag: typeof svc.image === 'string' ? svc.image : undefined,
        }));
      } catch (e) {
        throw serviceError(n, 'its image to build', e, undefined);
      }
    }
    // Secrets and configs given as a value (environment:, content:) are files in this process's state dir (0700,
    // removed with the process), one dir per project, removed by down().
    let valuesDir: string | undefined;
    if (names.some((n) => Array.isArray(doc.services[n]!.secrets) || Array.isArray(doc.services[n]!.configs))) {
      valuesDir = join(await processStateDir(), `compose-${project}-values`);
      mkdirSync(valuesDir, { recursive: true, mode: 0o700 });
      res.files.push(valuesDir);
    }
    const materialize = (kind: 'secrets' | 'configs', name: string, content: string): string => {
      const file = join(valuesDir!, `${kind}-${name}`);
      writeFileSync(file, content, { mode: 0o444 });
      return file;
    };
    // The images of services that wait for others are pulled now, while those start (docker compose pulls every image
    // before it starts any): a dependent's own pull is then a store lookup, not a download behind its dependencies.
    // Only under the `missing` policy; a failure is left to the service's start, which reports it with its name.
    const prefetched = new Map<string, Promise<unknown>>();
    for (const n of names) {
      const svc = doc.services[n]!;
      if (svc.build || !Object.keys(dependenciesOf(svc)).some((d) => names.includes(d))) continue;
      if ((pullPolicyOf(svc) ?? this.#s.pullPolicy ?? configValue('pullPolicy')) !== 'missing') continue;
      const ref = String(svc.image);
      const platform = svc.platform === undefined ? undefined : String(svc.platform);
      const key = `${ref}|${platform ?? ''}`;
      if (!prefetched.has(key)) prefetched.set(key, pull(ref, { policy: 'missing', platform, signal: abort.signal }).catch((e: unknown) => log('service %s: pulling %s ahead failed: %O', n, ref, e)));
      prefetched.set(n, prefetched.get(key)!);
    }
    const started = new Map<string, Promise<StartedContainer[]>>();
    const startService = async (n: string): Promise<StartedContainer[]> => {
      const svc = doc.services[n]!;
      await prefetched.get(n);
      for (const [dep, d] of Object.entries(dependenciesOf(svc))) {
        const p = started.get(dep);
        if (!p) continue;
        const cs = await p;
        if (d.condition === 'service_completed_successfully') {
          await Promise.all(cs.map(async (c) => {
            const exit = await c.wait();
            if (exit.exitCode !== 0) {
              throw serviceError(dep, `it to complete successfully (needed by ${n})`,
                new Error(`${c.name} exited with ${exit.exitCode === null ? `signal ${exit.signal}` : `code ${exit.exitCode}`}`), await tail(c));
            }
          }));
        }
      }
      abort.signal.throwIfAborted();
      const replicas = replicasOf(svc);
      const conditions = needs.get(n) ?? new Set<string>();
      const ctx = {
        project, vars, networks, volumes, image: images.get(n) ?? String(svc.image), secrets: doc.secrets, configs: doc.configs, materialize,
        anonymousVolume: (s: string, i: number) => {
          const v = Volume.named(`${project}-${s}-${i}-anon-${randomBytes(4).toString('hex')}`);
          res.volumes.push(v);
          return v;
        },
      };
      return Promise.all(Array.from({ length: replicas }, async (_, k) => {
        const index = k + 1;
        const key = `${n}-${index}`;
        let c = serviceContainer(ctx, n, svc, index);
        if (this.#s.pullPolicy && svc.pull_policy === undefined && !svc.build) c = c.withPullPolicy(this.#s.pullPolicy);
        if (this.#s.startupTimeout !== undefined) c = c.withStartupTimeout(this.#s.startupTimeout);
        const named = Array.isArray(this.#s.snapshots) && this.#s.snapshots.includes(n);
        const snapshot = snapshotsOff ? undefined : snapshotOf(n, svc, named || this.#s.snapshots === 'all', named);
        if (snapshot) c = c.withSnapshot({ ...snapshot, salt: await bindSalt(c, snapshot.salt) });
        const own = this.#s.waits.get(key) ?? this.#s.waits.get(n) ?? this.#s.defaultWait;
        const waits: WaitStrategy[] = [];
        if (conditions.has('service_completed_successfully')) waits.push(own ?? Wait.none());
        else {
          if (own) waits.push(own);
          if (conditions.has('service_healthy')) waits.push(Wait.forHealthCheck());
        }
        if (waits.length) c = c.waitFor(waits.length === 1 ? waits[0]! : Wait.forAll(waits));
        const waitedFor = describeWait(waits, conditions, c);
        let sc: StartedContainer;
        try {
          sc = await c.start({ signal: abort.signal, onLaunched: (x) => { res.containers.set(key, x); } });
        } catch (e) {
          res.containers.delete(key);
          throw serviceError(n, waitedFor, e, undefined, key);
        }
        res.containers.set(key, sc);
        return sc;
      }));
    };
    // Every service's start is a promise chained on its dependencies; a failure aborts the rest at once.
    const visit = (n: string): Promise<StartedContainer[]> => {
      let p = started.get(n);
      if (!p) {
        const deps = Object.keys(dependenciesOf(doc.services[n]!)).filter((d) => names.includes(d));
        p = Promise.all(deps.map(visit)).then(() => startService(n));
        p.catch((e) => abort.abort(e));
        started.set(n, p);
      }
      return p;
    };
    const all = names.map(visit);
    const results = await Promise.allSettled(all);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The first failure, not the aborts it caused in the others.
      const first = abort.signal.reason ?? failed.reason;
      throw first;
    }
  }
}

/**
 * Snapshots are layers in slipway's store, which an engine cannot mount. On the engine runtime, services the caller
 * asked to start from one (`withSnapshots()`, `up --snapshots`) are refused before anything starts, naming them all;
 * a file's own `x-slipway: { snapshot }` is a default of the file and is skipped there (as modules' default snapshots
 * are), so one compose file serves both runtimes. Returns whether snapshots are off for this up().
 */
async function snapshotsOnEngine(fromFile: readonly string[], asked: readonly string[]): Promise<boolean> {
  if ((!fromFile.length && !asked.length) || (await runtimeBackend()).kind === 'native') return false;
  if (asked.length) {
    throw new SlipwayError('ERR_UNSUPPORTED', `service${asked.length > 1 ? 's' : ''} ${asked.join(', ')}: snapshots need the native runtime (layers in slipway's store, which an engine does not mount)`, {
      hint: 'start without withSnapshots()/--snapshots on the engine, or use SLIPWAY_RUNTIME=native',
    });
  }
  log('x-slipway snapshots of %s are skipped: the engine runtime cannot mount snapshots', fromFile.join(', '));
  return true;
}

/**
 * A snapshot's salt with the content of the service's bind mounts: Compose projects seed services through binds
 * (`./init.sql:/docker-entrypoint-initdb.d/init.sql`, configs, secrets), which withSnapshot's key names by target
 * only, so an edited seed file would otherwise start from a stale snapshot.
 */
async function bindSalt(c: Container, salt: string | undefined): Promise<string | undefined> {
  const binds = c.options.mounts.filter((m) => m.kind === 'bind');
  if (!binds.length) return salt;
  const digests = await Promise.all(binds.map((m) => fileDigest({ source: m.source, target: m.target })));
  return [salt ?? '', ...digests].join('\0');
}

function describeWait(waits: WaitStrategy[], conditions: Set<string>, c: Container): string {
  const parts = waits.map((w) => w.describe());
  if (!parts.length) {
    // Container's default wait (as testcontainers'): the health check, else the image's, else published ports.
    const test = c.options.healthcheck?.Test;
    if (test && test[0] !== 'NONE') parts.push(`its healthcheck ${JSON.stringify(test)} to pass`);
    else if (c.options.ports.length) parts.push("the image's HEALTHCHECK if any, else its published ports to listen");
    else parts.push("the image's HEALTHCHECK if any, else it to start");
  }
  if (conditions.has('service_completed_successfully')) parts.push('then to complete successfully');
  return parts.join(' and ');
}

async function tail(c: StartedContainer): Promise<string> {
  try {
    const lines = (await c.logs().text()).split('\n').filter(Boolean).slice(-LAST_LOG_LINES);
    return lines.length ? `last log lines:\n${lines.map((l) => `  | ${l}`).join('\n')}` : '(the container wrote no log lines)';
  } catch {
    return '(no log lines)';
  }
}

function serviceError(service: string, waitedFor: string, cause: unknown, logs: string | undefined, container?: string): SlipwayError {
  if (SlipwayError.is(cause, 'ERR_COMPOSE_SERVICE') || SlipwayError.is(cause, 'ERR_ABORTED')) return cause as SlipwayError;
  const why = SlipwayError.is(cause) ? cause.shortMessage : (cause as Error)?.message ?? String(cause);
  const details = logs ?? (SlipwayError.is(cause) ? (cause.message.split('\n').slice(1).join('\n') || undefined) : undefined);
  return new SlipwayError('ERR_COMPOSE_SERVICE', `service ${service}${container ? ` (${container})` : ''} failed: ${why}; waited for ${waitedFor}`, {
    hint: SlipwayError.is(cause) && cause.hint ? cause.hint : `read ${service}'s log lines below; check its command, healthcheck and dependencies`,
    details, cause,
  });
}

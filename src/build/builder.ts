/**
 * The image builder: runs a Dockerfile on our own runtime. Each RUN is a hardened slipway container over the stage's
 * layers (`runtime.runBuildStep`); each RUN, COPY/ADD and WORKDIR that changes files becomes a layer in the store
 * (an uncompressed tar blob plus its unpacked tree); the other instructions change the config only. A step is
 * reused from the cache when its parent, instruction and inputs are unchanged (records in the store's `refs/`,
 * under a per-step lock, so concurrent builds of one context do each step once). The result is tagged in the store,
 * so `new Container(tag)` finds it without a registry.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import path, { posix } from 'node:path';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { chainIds, type ContainerConfig, type ImageConfigFile } from '../image/manifest.js';
import { hostPlatform, parsePlatform, platformString, type Platform } from '../image/platform.js';
import { imageConfigOf, pull, type Image, type ImageLayer } from '../image/pull.js';
import { ImageStore, isDiskFull, storeFullError } from '../image/store.js';
import { loadConfig } from '../config/index.js';
import { LayerWriter, type LayerDiff } from '../image/layer-diff.js';
import { EPOCH, storedConfigFile, storedLayer, storeLayerTar, writeLocalImage, type FullConfig, type HistoryEntry } from '../image/local-image.js';
import { containerIdMapper, layerOwnership, processStateDir, readFromLayers, resolveUser, runBuildStep, type Mount } from '../runtime/index.js';
import { parseDockerfile, splitWords, type Instruction } from './dockerfile.js';
import { parseDockerignore, readDockerignore } from './dockerignore.js';
import { readInputFile } from '../internal/read-input-file.js';
import { expandWord, expandWords } from './substitute.js';
import { contextTree, layerTree, planCopy, type CopyItem, type SourceFile, type SourceTree } from './copy.js';
import { LayerView } from './layer-view.js';
import { prepareRunMounts } from './run-mounts.js';
import type { BuildOptions, BuildResult } from './build-options.js';
import { buildWithEngine } from './build-with-engine.js';
import { splitStages, type Stage } from './stages.js';
import { fetchRemote, isUrl } from './remote.js';

const debug = logger('build');

export type { BuildOptions, BuildProgress, BuildResult } from './build-options.js';

/** The state of a stage between steps. */
interface StageState {
  name: string;
  layers: ImageLayer[];
  config: FullConfig;
  history: HistoryEntry[];
  platform: Platform;
  /** Identifies this exact state (parent + every step), for cache keys. */
  key: string;
  /** Stage ARGs in scope (declared, with their values; undefined when declared without value). */
  args: Map<string, string | undefined>;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Proxy args Docker accepts as build args without an ARG line. */
const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

/** Docker's predefined platform ARGs for a platform (`linux/arm64`: arm64's default variant is not shown, as BuildKit). */
function platformArgs(prefix: 'BUILD' | 'TARGET', p: Platform): [string, string][] {
  const variant = p.architecture === 'arm64' && p.variant === 'v8' ? '' : (p.variant ?? '');
  return [
    [`${prefix}PLATFORM`, platformString({ os: p.os, architecture: p.architecture, variant: variant || undefined })],
    [`${prefix}OS`, p.os], [`${prefix}ARCH`, p.architecture], [`${prefix}VARIANT`, variant],
  ];
}

/** Whether this machine executes binaries of `p` natively (no emulation: same architecture, or 386 on amd64). */
function runnable(p: Platform, host: Platform): boolean {
  if (p.os !== host.os) return false;
  if (p.architecture === host.architecture) return p.architecture !== 'arm' || (Number(p.variant?.slice(1) ?? 7) <= Number(host.variant?.slice(1) ?? 7));
  return p.architecture === '386' && host.architecture === 'amd64';
}

function sha256(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

function buildError(ins: Instruction, message: string, hint?: string, cause?: unknown): SlipwayError {
  return new SlipwayError('ERR_BUILD', `Dockerfile line ${ins.line} (${ins.keyword}): ${message}`, { hint, cause });
}

function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

/** Parses Docker's duration strings (`30s`, `1m30s`, `500ms`) to nanoseconds. */
function durationNs(s: string, ins: Instruction): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * unit[m[2]!]!;
    matched += m[0].length;
  }
  if (!s || matched !== s.length) throw buildError(ins, `invalid duration ${JSON.stringify(s)}`, 'use a Go duration such as 30s, 1m30s or 500ms');
  return Math.round(total);
}

/**
 * Builds an image from a Dockerfile and tags it in the store.
 * @throws SlipwayError `ERR_BUILD_CONTEXT` (missing context, COPY source absent or outside it),
 *   `ERR_DOCKERFILE_PARSE`, `ERR_BUILD` (unknown stage or target, bad instruction), `ERR_BUILD_STEP_FAILED` (a RUN
 *   exited non-zero: its code in the message, its last output lines in the details), pull errors for FROM images.
 */
export async function buildImage(contextDir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const context = path.resolve(contextDir);
  const ctxStat = await stat(context).catch(() => undefined);
  if (!ctxStat?.isDirectory()) {
    throw new SlipwayError('ERR_BUILD_CONTEXT', `the build context ${context} is not a directory`, { hint: 'pass the directory that holds the Dockerfile and the files it copies' });
  }
  const dockerfilePath = path.resolve(context, opts.dockerfile ?? 'Dockerfile');
  const text = await readInputFile(dockerfilePath).catch((e: unknown) => {
    throw new SlipwayError('ERR_BUILD_CONTEXT', `cannot read the Dockerfile ${dockerfilePath}: ${(e as Error).message}`, { hint: 'pass `dockerfile` relative to the context', cause: e });
  });
  // Parsed on either runtime: a malformed Dockerfile is the same ERR_DOCKERFILE_PARSE, and the engine's steps are named.
  const df = parseDockerfile(text);
  const onEngine = await buildWithEngine(context, df, opts);
  if (onEngine) return onEngine;
  const ignoreText = await readDockerignore(context);
  const builder = new Builder(context, df, parseDockerignore(ignoreText), opts);
  return builder.run();
}

class Builder {
  readonly store: ImageStore;
  readonly useCache: boolean;
  readonly escape: string;
  /** This machine's platform (`BUILDPLATFORM`) and the one the build is for (`TARGETPLATFORM`). */
  readonly buildPlatform: Platform = hostPlatform();
  readonly targetPlatform: Platform;
  cached = 0;
  executed = 0;
  #ownership: Awaited<ReturnType<typeof layerOwnership>> | undefined;
  #context: SourceTree | undefined;
  readonly #built = new Map<number, StageState>();

  constructor(
    readonly contextDir: string,
    readonly df: ReturnType<typeof parseDockerfile>,
    readonly ignore: ReturnType<typeof parseDockerignore>,
    readonly opts: BuildOptions,
  ) {
    this.store = new ImageStore(opts.storeDir ?? loadConfig().values.storeDir);
    this.useCache = opts.cache !== false;
    this.escape = df.escape;
    try {
      this.targetPlatform = opts.platform ? parsePlatform(opts.platform) : this.buildPlatform;
    } catch (e) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `build option platform: ${(e as Error).message}`, { hint: 'use os/arch[/variant], e.g. linux/amd64 or linux/arm64', cause: e });
    }
  }

  async ownership(): Promise<Awaited<ReturnType<typeof layerOwnership>>> {
    this.#ownership ??= await layerOwnership();
    return this.#ownership;
  }

  async context(): Promise<SourceTree> {
    this.#context ??= await contextTree(this.contextDir, this.ignore);
    return this.#context;
  }

  async run(): Promise<BuildResult> {
    const { globals, stages } = splitStages(this.df.instructions);
    const buildArgs = this.opts.buildArgs ?? {};
    // Global ARGs: visible to FROM lines, and to stages that declare them again.
    // Docker's predefined platform ARGs are in the global scope (FROM lines see them; a stage declares them to use them).
    const globalArgs = new Map<string, string>([...platformArgs('BUILD', this.buildPlatform), ...platformArgs('TARGET', this.targetPlatform)]);
    for (const ins of globals) {
      for (const w of splitWords(ins.args, this.escape)) {
        const [name, def] = this.#argDecl(w, ins, globalArgs);
        const v = buildArgs[name] ?? def;
        if (v !== undefined) globalArgs.set(name, v);
      }
    }
    let target = stages[stages.length - 1]!;
    if (this.opts.target !== undefined) {
      const t = stages.find((s) => s.name === this.opts.target!.toLowerCase());
      if (!t) throw new SlipwayError('ERR_BUILD', `target stage ${JSON.stringify(this.opts.target)} is not in the Dockerfile`, { hint: `stages: ${stages.map((s) => s.name ?? String(s.index)).join(', ')}` });
      target = t;
    }
    const state = await this.#buildStage(target, stages, globalArgs, new Set());
    await this.store.init();
    return this.#finish(state);
  }

  #argDecl(word: string, ins: Instruction, vars: ReadonlyMap<string, string>): [string, string | undefined] {
    const i = word.indexOf('=');
    const name = i < 0 ? word : word.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw buildError(ins, `invalid ARG name ${JSON.stringify(name)}`);
    return [name, i < 0 ? undefined : expandWord(word.slice(i + 1), vars, this.escape)];
  }

  /** The stage a name or index refers to (an earlier one), or undefined for an image name. */
  #stageRef(ref: string, stages: Stage[], before: number): Stage | undefined {
    const lower = ref.toLowerCase();
    const byName = stages.find((s) => s.name === lower && s.index < before);
    if (byName) return byName;
    if (/^\d+$/.test(ref)) {
      const i = Number(ref);
      if (i >= before) throw new SlipwayError('ERR_BUILD', `stage index ${i} does not refer to an earlier stage`, { hint: 'COPY --from=<n> and FROM <n> name an earlier stage' });
      return stages[i];
    }
    return undefined;
  }

  async #buildStage(stage: Stage, stages: Stage[], globalArgs: Map<string, string>, visiting: Set<number>): Promise<StageState> {
    const done = this.#built.get(stage.index);
    if (done) return done;
    if (visiting.has(stage.index)) throw new SlipwayError('ERR_BUILD', `stage ${stage.name ?? stage.index} depends on itself`);
    visiting.add(stage.index);
    const label = stage.name ?? String(stage.index);
    let total = stage.steps.length + 1;
    const fromWord = expandWord(stage.from.args.split(/\s+/)[0]!, globalArgs, this.escape);
    let state: StageState;
    const parentStage = this.#stageRef(fromWord, stages, stage.index);
    const platformFlag = stage.from.flags.platform?.[0];
    let platform = this.targetPlatform;
    if (platformFlag !== undefined) {
      const expanded = expandWord(platformFlag, globalArgs, this.escape);
      try {
        platform = parsePlatform(expanded);
      } catch (e) {
        throw buildError(stage.from, `--platform=${expanded}: ${(e as Error).message}`, 'use os/arch[/variant], e.g. linux/amd64 or $BUILDPLATFORM', e);
      }
    }
    this.opts.onProgress?.({ type: 'step', stage: label, step: 1, total, instruction: stage.from.original, cached: true });
    if (parentStage) {
      const p = await this.#buildStage(parentStage, stages, globalArgs, visiting);
      state = { ...p, name: label, config: structuredClone(p.config), history: [...p.history], layers: [...p.layers], args: new Map() };
    } else if (fromWord.toLowerCase() === 'scratch') {
      state = { name: label, layers: [], config: { Env: [] }, history: [], platform, key: sha256(`scratch ${platformString(platform)}`), args: new Map() };
    } else {
      state = await this.#fromImage(fromWord, stage.from, label, platformFlag !== undefined || this.opts.platform !== undefined ? platform : undefined);
    }
    // ONBUILD triggers of the base run first, as if written after FROM; the result does not inherit them.
    const steps = [...this.#triggers(state, stage.from), ...stage.steps];
    total = steps.length + 1;
    const buildArgs = this.opts.buildArgs ?? {};
    for (let i = 0; i < steps.length; i++) {
      const ins = steps[i]!;
      if (this.opts.signal?.aborted) throw new SlipwayError('ERR_ABORTED', 'the build was aborted', { cause: this.opts.signal.reason });
      const vars = this.#vars(state);
      let cachedStep = true;
      // `progress(false, ms)` reports a step that ran as done.
      const progress = (cached: boolean, durationMs?: number): void => this.opts.onProgress?.(durationMs === undefined
        ? { type: 'step', stage: label, step: i + 2, total, instruction: ins.original, cached }
        : { type: 'done', stage: label, step: i + 2, total, instruction: ins.original, durationMs });
      switch (ins.keyword) {
        case 'ARG':
          for (const w of splitWords(ins.args, this.escape)) {
            const [name, def] = this.#argDecl(w, ins, vars);
            const v = buildArgs[name] ?? def ?? globalArgs.get(name);
            state.args.set(name, v);
            state.key = sha256(`${state.key}\nARG ${name}=${v ?? '\0'}`);
          }
          progress(true);
          continue;
        case 'RUN':
          cachedStep = await this.#run(state, ins, label, i + 2, progress, stages, globalArgs, visiting, stage.index);
          break;
        case 'COPY':
        case 'ADD':
          cachedStep = await this.#copy(state, ins, stages, globalArgs, visiting, stage.index, progress);
          break;
        case 'WORKDIR':
          cachedStep = await this.#workdir(state, ins, vars, progress);
          break;
        default:
          this.#metadata(state, ins, vars);
          progress(true);
          continue;
      }
      if (cachedStep) this.cached++;
      else this.executed++;
    }
    visiting.delete(stage.index);
    this.#built.set(stage.index, state);
    return state;
  }

  /** The base's ONBUILD triggers as instructions (reported at the FROM line); clears them from the config. */
  #triggers(state: StageState, from: Instruction): Instruction[] {
    const triggers = state.config.OnBuild ?? [];
    state.config.OnBuild = null;
    if (!triggers.length) return [];
    let parsed: Instruction[];
    try {
      parsed = parseDockerfile(`# escape=${this.escape}\n${triggers.join('\n')}`).instructions;
    } catch (e) {
      throw buildError(from, `an ONBUILD trigger of the base image does not parse: ${(e as Error).message}`, 'fix the base image', e);
    }
    for (const t of parsed) {
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(t.keyword)) throw buildError(from, `${t.keyword} is not allowed as an ONBUILD trigger`, 'fix the base image');
    }
    return parsed.map((t) => ({ ...t, line: from.line, original: `ONBUILD ${t.original}` }));
  }

  /** Variables for substitution: the stage's ARGs, then its ENV over them. */
  /** A config-only instruction applied to `state` (commit's changes). */
  metadata(state: StageState, ins: Instruction): void {
    this.#metadata(state, ins, this.#vars(state));
  }

  vars(state: StageState): Map<string, string> {
    return this.#vars(state);
  }

  #vars(state: StageState): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of state.args) if (v !== undefined) m.set(k, v);
    for (const [k, v] of envMap(state.config.Env)) m.set(k, v);
    return m;
  }

  async #fromImage(ref: string, ins: Instruction, label: string, platform: Platform | undefined): Promise<StageState> {
    const own = await this.ownership();
    let image: Image;
    try {
      image = await pull(ref, {
        policy: this.opts.pullPolicy, platform, signal: this.opts.signal, storeDir: this.opts.storeDir,
        mappingKey: own.mappingKey, applyOwnership: own.applyOwnership, removeTree: own.removeTree,
      });
    } catch (e) {
      if (SlipwayError.is(e)) throw new SlipwayError(e.code, `Dockerfile line ${ins.line} (${ins.keyword === 'FROM' ? 'FROM' : `${ins.keyword} --from=`}${ref}): ${e.shortMessage}`, { hint: e.hint, cause: e });
      throw e;
    }
    const full = await this.#configFile(image);
    return {
      name: label,
      layers: image.layers,
      config: { ...(full?.config ?? {}), Env: image.config.Env, Cmd: image.config.Cmd, Entrypoint: image.config.Entrypoint },
      history: (full as { history?: HistoryEntry[] } | undefined)?.history ?? [],
      platform: image.platform,
      key: sha256(`FROM ${image.manifestDigest}`),
      args: new Map(),
    };
  }

  /** The base image's full config (for its history and fields the runtime view drops), when the store has it. */
  async #configFile(image: Image): Promise<ImageConfigFile | undefined> {
    return storedConfigFile(this.store, image);
  }

  #history(state: StageState, createdBy: string, empty: boolean): void {
    state.history.push({ created: EPOCH, created_by: createdBy, comment: 'buildkit.dockerfile.v0', ...(empty ? { empty_layer: true } : {}) });
  }

  /** Instructions that change only the config. */
  #metadata(state: StageState, ins: Instruction, vars: Map<string, string>): void {
    const c = state.config;
    const shell = c.Shell ?? DEFAULT_SHELL;
    const cmdOf = (): string[] => (ins.json ? ins.json : [...shell, ins.args]);
    let createdBy = `${ins.keyword} ${ins.args}`;
    switch (ins.keyword) {
      case 'ENV':
      case 'LABEL': {
        const pairs = this.#keyValues(ins, vars);
        if (ins.keyword === 'ENV') {
          const env = envMap(c.Env);
          for (const [k, v] of pairs) {
            env.set(k, v);
            vars.set(k, v);
          }
          c.Env = [...env].map(([k, v]) => `${k}=${v}`);
        } else {
          c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs) };
        }
        createdBy = `${ins.keyword} ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
        break;
      }
      case 'CMD':
        c.Cmd = cmdOf();
        state.args.set('\0cmd-set', '1');
        createdBy = `CMD ${JSON.stringify(c.Cmd)}`;
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = cmdOf();
        // Docker: an ENTRYPOINT resets a CMD inherited from the base (not one set earlier in this stage).
        if (!state.args.has('\0cmd-set')) c.Cmd = null;
        createdBy = `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`;
        break;
      case 'SHELL':
        if (!ins.json?.length) throw buildError(ins, 'SHELL requires the JSON form, e.g. SHELL ["/bin/bash", "-c"]');
        c.Shell = ins.json;
        createdBy = `SHELL ${JSON.stringify(ins.json)}`;
        break;
      case 'USER':
        c.User = expandWord(ins.args, vars, this.escape);
        createdBy = `USER ${c.User}`;
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const w of expandWords(ins.args, vars, this.escape)) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
          if (!m) throw buildError(ins, `invalid port ${JSON.stringify(w)}`, 'use <port>[/tcp|udp] or <from>-<to>[/proto]');
          const proto = (m[3] ?? 'tcp').toLowerCase();
          for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) ports[`${p}/${proto}`] = {};
        }
        c.ExposedPorts = ports;
        createdBy = `EXPOSE ${Object.keys(ports).join(' ')}`;
        break;
      }
      case 'VOLUME': {
        const vols = ins.json ?? expandWords(ins.args, vars, this.escape);
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of vols) {
          if (!v) throw buildError(ins, 'VOLUME needs a path');
          c.Volumes[ins.json ? expandWord(v, vars, this.escape) : v] = {};
        }
        break;
      }
      case 'STOPSIGNAL':
        c.StopSignal = expandWord(ins.args, vars, this.escape);
        break;
      case 'HEALTHCHECK': {
        const words = ins.args.split(/\s+/);
        if (words[0]?.toUpperCase() === 'NONE') {
          c.Healthcheck = { Test: ['NONE'] };
          break;
        }
        if (words[0]?.toUpperCase() !== 'CMD') throw buildError(ins, 'expected HEALTHCHECK [options] CMD command, or HEALTHCHECK NONE');
        const rest = ins.args.replace(/^\S+\s*/, '');
        let test: string[];
        try {
          const j: unknown = rest.startsWith('[') ? JSON.parse(rest) : undefined;
          test = Array.isArray(j) ? ['CMD', ...(j as string[])] : ['CMD-SHELL', rest];
        } catch {
          test = ['CMD-SHELL', rest];
        }
        const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: test };
        const f = ins.flags;
        if (f.interval) hc.Interval = durationNs(f.interval[0]!, ins);
        if (f.timeout) hc.Timeout = durationNs(f.timeout[0]!, ins);
        if (f['start-period']) hc.StartPeriod = durationNs(f['start-period'][0]!, ins);
        if (f['start-interval']) hc.StartInterval = durationNs(f['start-interval'][0]!, ins);
        if (f.retries) {
          const r = Number(f.retries[0]);
          if (!Number.isInteger(r) || r < 0) throw buildError(ins, `invalid --retries ${f.retries[0]}`);
          hc.Retries = r;
        }
        c.Healthcheck = hc;
        break;
      }
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), ins.args];
        break;
      case 'MAINTAINER':
        break;
      default:
        throw buildError(ins, `${ins.keyword} is not supported here`);
    }
    state.key = sha256(`${state.key}\n${createdBy}\n${JSON.stringify(c)}`);
    this.#history(state, createdBy, true);
  }

  /** ENV/LABEL `k=v …` (or the legacy `ENV k v`), values substituted and unquoted. */
  #keyValues(ins: Instruction, vars: Map<string, string>): [string, string][] {
    const words = splitWords(ins.args, this.escape);
    if (ins.keyword === 'ENV' && words.length && !words[0]!.includes('=')) {
      const rest = ins.args.replace(/^\S+\s*/, '');
      return [[words[0]!, expandWord(rest, vars, this.escape)]];
    }
    const out: [string, string][] = [];
    const scope = new Map(vars);
    for (const w of words) {
      const i = w.indexOf('=');
      if (i <= 0) throw buildError(ins, `expected key=value, got ${JSON.stringify(w)}`);
      const k = expandWord(w.slice(0, i), scope, this.escape);
      const v = expandWord(w.slice(i + 1), vars, this.escape);
      out.push([k, v]);
    }
    return out;
  }

  /** RUN: a container over the stage, its change committed. Returns whether the cache served it. */
  async #run(state: StageState, ins: Instruction, label: string, step: number, progress: (cached: boolean, durationMs?: number) => void, stages: Stage[], globalArgs: Map<string, string>, visiting: Set<number>, before: number): Promise<boolean> {
    const shell = state.config.Shell ?? DEFAULT_SHELL;
    let argv: string[];
    if (ins.json) argv = ins.json;
    else if (ins.heredocs.length === 1 && /^<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?$/.test(ins.args.trim())) argv = [...shell, ins.heredocs[0]!.content];
    else argv = [...shell, [ins.args, ...ins.heredocs.map((h) => `${h.content}${h.name}`)].join('\n')];
    const network = ins.flags.network?.[0] ?? 'default';
    if (!['default', 'none'].includes(network)) throw buildError(ins, `RUN --network=${network} is not supported`, 'use --network=none or the default');
    if (!runnable(state.platform, this.buildPlatform)) {
      throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (RUN): the stage is for ${platformString(state.platform)} and this machine runs ${platformString(this.buildPlatform)}; slipway does not emulate other CPUs (no qemu)`, {
        hint: 'run build tools in a stage FROM --platform=$BUILDPLATFORM and cross-compile for $TARGETARCH, or build on a matching machine; COPY-only stages work for any platform',
      });
    }
    if (ins.flags.security) throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (RUN): --security is not supported`, { hint: 'remove the flag' });
    // The environment of the step: declared ARGs (build args given) under the stage's ENV.
    const env: Record<string, string> = {};
    for (const [k, v] of state.args) if (v !== undefined && !k.startsWith('\0')) env[k] = v;
    for (const [k, v] of envMap(state.config.Env)) env[k] = v;
    // Predefined proxy args reach the step without an ARG line, but (as BuildKit's ProxyEnv) stay out of the cache key.
    const proxyEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.buildArgs ?? {})) if (PREDEFINED_ARGS.has(k) && !(k in env)) proxyEnv[k] = v;
    const user = state.config.User ?? '';
    const workdir = state.config.WorkingDir ?? '';
    const own = await this.ownership();
    const run = await prepareRunMounts({
      ins, workdir: workdir || '/', storeRoot: this.store.root, mappingKey: own.mappingKey, secrets: this.opts.secrets ?? {},
      privateDir: async () => {
        const d = path.join(await processStateDir(), 'build-mounts');
        await mkdir(d, { recursive: true, mode: 0o700 });
        return d;
      },
      applyOwnership: own.applyOwnership, removeTree: own.removeTree, sourceTree: (from) => this.#mountSource(from, stages, globalArgs, visiting, before),
    });
    try {
      // Secrets (files and env=) stay out of the key, as in BuildKit; a bind mount's content is in it.
      const key = sha256(JSON.stringify(['RUN', state.key, argv, env, user, workdir, network, ins.flags.mount ?? [], run.inputs]));
      return await this.#runStep(state, ins, label, step, progress, key, argv, { ...proxyEnv, ...env, ...run.env }, run.mounts, network);
    } finally {
      await run.cleanup();
    }
  }

  /** The source tree of `RUN --mount=type=bind,from=…`: the context, an earlier stage or an image. */
  async #mountSource(from: string | undefined, stages: Stage[], globalArgs: Map<string, string>, visiting: Set<number>, before: number): Promise<{ tree: SourceTree; key: string }> {
    if (from === undefined) return { tree: await this.context(), key: 'context' };
    const st = this.#stageRef(from, stages, before);
    if (st) {
      const s = await this.#buildStage(st, stages, globalArgs, visiting);
      return { tree: layerTree(new LayerView(s.layers.map((l) => l.dir!).reverse()), `stage ${from}`), key: s.key };
    }
    const img = await this.#fromImage(from, { keyword: 'RUN', flags: {}, args: '', heredocs: [], line: 0, original: '' }, from, this.opts.platform !== undefined ? this.targetPlatform : undefined);
    return { tree: layerTree(new LayerView(img.layers.map((l) => l.dir!).reverse()), `image ${from}`), key: img.key };
  }

  async #runStep(state: StageState, ins: Instruction, label: string, step: number, progress: (cached: boolean, durationMs?: number) => void, key: string, argv: string[], env: Record<string, string>, mounts: Mount[], network: string): Promise<boolean> {
    const user = state.config.User ?? '';
    const workdir = state.config.WorkingDir ?? '';
    const createdBy = `RUN ${argv.join(' ')} # buildkit`;
    return this.#layerStep(state, key, createdBy, progress, async (dest) => {
      const image: Image = this.#asImage(state);
      const r = await runBuildStep({
        image, argv, env, user, workdir, mounts, networkMode: network === 'none' ? 'none' : 'isolated', signal: this.opts.signal,
        onOutput: (line, stream) => this.opts.onProgress?.({ type: 'output', stage: label, step, line, stream }),
      });
      try {
        if (r.exit.exitCode !== 0) {
          const how = r.exit.exitCode === null ? `was killed by ${r.exit.signal}` : `exited with code ${r.exit.exitCode}`;
          throw new SlipwayError('ERR_BUILD_STEP_FAILED', `Dockerfile line ${ins.line}: ${ins.original} ${how}`, {
            hint: 'fix the command; the output above shows why it failed',
            details: r.lastLines.length ? `last output lines:\n${r.lastLines.slice(-20).join('\n')}` : '(no output)',
          });
        }
        return await r.commit(dest);
      } finally {
        await r.remove().catch((e: unknown) => debug('removing the RUN container: %s', (e as Error).message));
      }
    });
  }

  #asImage(state: StageState): Image {
    const cfg = imageConfigOf({ config: state.config, rootfs: { type: 'layers', diff_ids: [] }, architecture: state.platform.architecture, os: state.platform.os });
    return {
      ref: `slipway-build/${state.name}`, digest: `sha256:${state.key}`, manifestDigest: `sha256:${state.key}`, config: cfg,
      layers: state.layers, platform: state.platform, source: 'cache',
    };
  }

  /**
   * A step that makes a layer: reused when the cache has `key` (and its layer is still in the store), else `make`
   * writes the layer tar, which is stored and unpacked. Under a lock per key: a concurrent build of the same step
   * waits, then reuses it.
   */
  async #layerStep(state: StageState, key: string, createdBy: string, progress: (cached: boolean, durationMs?: number) => void, make: (dest: string) => Promise<LayerDiff>): Promise<boolean> {
    const own = await this.ownership();
    const cacheKey = `build-cache|${own.mappingKey}|${key}`;
    const parentChain = state.layers.map((l) => l.diffId);
    const reuse = async (): Promise<boolean> => {
      if (!this.useCache) return false;
      const rec = await this.store.readRef<{ diffId: string | null; size: number }>(cacheKey);
      if (!rec) return false;
      if (rec.diffId === null) {
        this.#history(state, createdBy, true);
      } else {
        const chainId = chainIds([...parentChain, rec.diffId]).pop()!;
        if (!(await this.store.layerReady(own.mappingKey, chainId))) return false;
        state.layers = [...state.layers, this.#layer(rec.diffId, rec.size, chainId)];
        this.#history(state, createdBy, false);
      }
      state.key = key;
      return true;
    };
    await this.store.init();
    if (await reuse()) {
      progress(true);
      return true;
    }
    const lock = await this.store.lock(`build-${key.slice(0, 32)}`, this.opts.signal);
    try {
      if (await reuse()) {
        progress(true);
        return true;
      }
      progress(false);
      const started = Date.now();
      const tar = this.store.tempPath('build_layer');
      try {
        const diff = await make(tar).catch((e: unknown) => { throw isDiskFull(e) && !SlipwayError.is(e, 'ERR_STORE_FULL') ? storeFullError(this.store.root, `building ${createdBy}`, e) : e; });
        if (diff.entries === 0) {
          await this.store.writeRef(cacheKey, { diffId: null, size: 0 });
          this.#history(state, createdBy, true);
        } else {
          const chainId = chainIds([...parentChain, diff.diffId]).pop()!;
          await this.#storeLayer(tar, diff, chainId);
          await this.store.writeRef(cacheKey, { diffId: diff.diffId, size: diff.size });
          state.layers = [...state.layers, this.#layer(diff.diffId, diff.size, chainId)];
          this.#history(state, createdBy, false);
        }
        state.key = key;
        progress(false, Date.now() - started);
        return false;
      } finally {
        await rm(tar, { force: true });
      }
    } finally {
      lock.release();
    }
  }

  #layer(diffId: string, size: number, chainId: string): ImageLayer {
    return storedLayer(this.store, this.#ownership!.mappingKey, diffId, size, chainId);
  }

  async #storeLayer(tar: string, diff: LayerDiff, chainId: string): Promise<void> {
    await storeLayerTar(this.store, tar, diff, chainId, await this.ownership(), this.opts.signal);
  }

  /** The numeric owner for `--chown`, resolved in the stage's /etc/passwd and /etc/group. */
  async #chown(state: StageState, spec: string, ins: Instruction): Promise<{ uid: number; gid: number }> {
    const [u, g] = spec.split(':');
    const lowers = state.layers.map((l) => l.dir!).reverse();
    const passwd = (await readFromLayers(lowers, 'etc/passwd')) ?? '';
    const group = (await readFromLayers(lowers, 'etc/group')) ?? '';
    try {
      const user = resolveUser(u!, passwd, group);
      // Docker: a user without a group gets the same numeric id as its group.
      const gid = g === undefined ? user.uid : resolveUser(`${u}:${g}`, passwd, group).gid;
      return { uid: user.uid, gid };
    } catch (e) {
      throw buildError(ins, `--chown=${spec}: ${SlipwayError.is(e) ? e.shortMessage : (e as Error).message}`, 'use numeric ids or names the image defines', e);
    }
  }

  async #copy(state: StageState, ins: Instruction, stages: Stage[], globalArgs: Map<string, string>, visiting: Set<number>, before: number, progress: (cached: boolean, durationMs?: number) => void): Promise<boolean> {
    const vars = this.#vars(state);
    const words = ins.json ? ins.json.map((w) => expandWord(w, vars, this.escape)) : expandWords(ins.args, vars, this.escape);
    const inline: { name: string; content: Buffer; mode?: number; mtime?: Date }[] = ins.heredocs.map((h) => ({ name: h.name, content: Buffer.from(h.expand ? expandWord(h.content.replace(/(["'\\`])/g, '\\$1'), vars, this.escape) : h.content) }));
    const heredocWords = new Set(ins.heredocs.map((h) => h.name));
    const args = words.filter((w) => !/^<<-?/.test(w) || !heredocWords.has(w.replace(/^<<-?["']?|["']?$/g, '')));
    if (args.length < 1 || args.length + inline.length < 2) throw buildError(ins, `${ins.keyword} needs at least one source and a destination`);
    if (ins.keyword === 'COPY' && args.slice(0, -1).some((s) => isUrl(s))) throw buildError(ins, 'COPY cannot take a URL as its source', 'use ADD <url> <dest>');
    // ADD <url>: downloaded each build (as BuildKit does); the content, name and mtime are the step's input.
    const urls = ins.keyword === 'ADD' ? args.slice(0, -1).filter((s) => isUrl(s)) : [];
    const checksum = ins.flags.checksum?.[0];
    if (checksum !== undefined && (ins.keyword !== 'ADD' || urls.length !== args.length - 1)) {
      throw buildError(ins, '--checksum is only supported for ADD of http(s) URLs', 'remove --checksum, or use it on an ADD <url>');
    }
    for (const u of urls) {
      const f = await fetchRemote(u, { line: ins.line, checksum, signal: this.opts.signal });
      inline.push({ name: f.name, content: f.content, mode: 0o600, ...(f.mtime ? { mtime: f.mtime } : {}) });
    }
    const localSources = args.slice(0, -1).filter((s) => !urls.includes(s));
    if (ins.flags.parents) {
      throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (COPY --parents): --parents is in BuildKit's labs syntax only and not supported`, { hint: 'copy each directory with its own COPY <dir> <dest>/<dir>' });
    }
    // ADD --unpack (BuildKit 1.17): local archives are unpacked by default; a downloaded one is not unpacked here.
    const unpackFlag = ins.flags.unpack?.[0];
    if (unpackFlag !== undefined && !['true', 'false'].includes(unpackFlag)) throw buildError(ins, `--unpack=${unpackFlag}: expected true or false`);
    if (unpackFlag === 'true' && urls.length) {
      throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (ADD --unpack=true <url>): unpacking a downloaded archive is not supported`, { hint: 'ADD the archive, then extract it in a RUN step' });
    }
    if (ins.flags['keep-git-dir'] && !urls.length) throw buildError(ins, '--keep-git-dir applies to ADD of a git URL only');
    const exclude = (ins.flags.exclude ?? []).map((e) => expandWord(e, vars, this.escape));
    const rawDest = args[args.length - 1]!;
    const workdir = state.config.WorkingDir || '/';
    const dest = (rawDest.startsWith('/') ? rawDest : posix.join(workdir, rawDest)) + (rawDest.endsWith('/') && rawDest !== '/' ? '/' : '');
    const from = ins.flags.from?.[0];
    let tree: SourceTree;
    let fromKey = 'context';
    if (from !== undefined) {
      const fromName = expandWord(from, vars, this.escape);
      const st = this.#stageRef(fromName, stages, before);
      if (st) {
        const s = await this.#buildStage(st, stages, globalArgs, visiting);
        tree = layerTree(new LayerView(s.layers.map((l) => l.dir!).reverse()), `stage ${fromName}`);
        fromKey = s.key;
      } else {
        const img = await this.#fromImage(fromName, ins, fromName, this.opts.platform !== undefined ? state.platform : undefined);
        tree = layerTree(new LayerView(img.layers.map((l) => l.dir!).reverse()), `image ${fromName}`);
        fromKey = img.key;
      }
    } else {
      tree = await this.context();
    }
    const owner = ins.flags.chown ? await this.#chown(state, expandWord(ins.flags.chown[0]!, vars, this.escape), ins) : undefined;
    let chmod: number | undefined;
    if (ins.flags.chmod) {
      const m = ins.flags.chmod[0]!;
      if (!/^[0-7]{3,4}$/.test(m)) throw buildError(ins, `--chmod=${m}: expected an octal mode such as 0755`);
      chmod = parseInt(m, 8);
    }
    const view = new LayerView(state.layers.map((l) => l.dir!).reverse());
    const request = { sources: localSources, dest, owner, chmod, inline, exclude, extractArchives: ins.keyword === 'ADD' && from === undefined && unpackFlag !== 'false' };
    const isDir = async (abs: string): Promise<boolean> => Boolean((await view.lookup(await view.resolve(abs, true)))?.st.isDirectory());
    // COPY --from: the stage's (or image's) key already names every byte it holds, so the plan (a walk that reads and
    // hashes each file) is made only when the step runs; a cached rebuild skips it (1.7 s of a 1.9 s rebuild of
    // bench scenario 9, whose runtime stage copies a deps stage's node_modules).
    let plan: Awaited<ReturnType<typeof planCopy>> | undefined;
    const key = from !== undefined
      ? sha256(JSON.stringify([ins.keyword, state.key, fromKey, dest, request.sources, owner ?? null, chmod ?? null, exclude, inline.map(({ content, ...meta }) => [meta, sha256(content)])]))
      : sha256(JSON.stringify([ins.keyword, state.key, fromKey, dest, (plan = await planCopy(tree, request, isDir)).hash]));
    const createdBy = `${ins.keyword} ${ins.args} # buildkit`;
    return this.#layerStep(state, key, createdBy, progress, async (tar) => {
      plan ??= await planCopy(tree, request, isDir);
      return this.#writeCopyLayer(tar, view, plan.items, owner);
    });
  }

  /**
   * The layer of a COPY: every parent directory (as the image has it, or created 0755 owned by `--chown`'s owner),
   * then the items; symlinks in the destination path resolved in the image.
   */
  async #writeCopyLayer(tar: string, view: LayerView, items: CopyItem[], owner: { uid: number; gid: number } | undefined): Promise<LayerDiff> {
    const map = await containerIdMapper();
    const out = new Map<string, { h: Parameters<LayerWriter['add']>[0]; content?: Buffer; file?: SourceFile }>();
    const resolvedParent = new Map<string, string>();
    const parentOf = async (rel: string): Promise<string> => {
      const d = posix.dirname(rel);
      if (d === '.') return '';
      let r = resolvedParent.get(d);
      if (r === undefined) {
        r = await view.resolve(`/${d}`, true);
        resolvedParent.set(d, r);
      }
      return r;
    };
    const ensureDirs = async (dir: string): Promise<void> => {
      const parts = dir ? dir.split('/') : [];
      for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        if (out.has(p)) continue;
        const e = await view.lookup(p);
        if (e?.st.isDirectory()) {
          out.set(p, { h: { name: `${p}/`, type: 'directory', mode: e.st.mode & 0o7777, uid: map.uid(e.st.uid), gid: map.gid(e.st.gid) } });
        } else {
          out.set(p, { h: { name: `${p}/`, type: 'directory', mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 } });
        }
      }
    };
    for (const it of items) {
      const parent = await parentOf(it.rel);
      await ensureDirs(parent);
      const rel = parent ? `${parent}/${posix.basename(it.rel)}` : posix.basename(it.rel);
      const h = {
        name: it.type === 'directory' ? `${rel}/` : rel, type: it.type, mode: it.mode, uid: it.uid, gid: it.gid,
        ...(it.linkname !== undefined ? { linkname: it.linkname } : {}), ...(it.mtime ? { mtime: it.mtime } : {}),
      };
      out.set(rel, { h, content: it.content, file: it.file });
    }
    const w = new LayerWriter(tar);
    try {
      for (const k of [...out.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        const e = out.get(k)!;
        if (e.file) await w.addFile(e.h, e.file.size, e.file.chunks());
        else await w.add(e.h, e.content);
      }
    } catch (e) {
      await w.abort(e);
      throw e;
    }
    return w.finish();
  }

  /** WORKDIR: sets the config and creates the directory (owned by the stage's USER, as BuildKit does) when missing. */
  async #workdir(state: StageState, ins: Instruction, vars: Map<string, string>, progress: (cached: boolean, durationMs?: number) => void): Promise<boolean> {
    const raw = expandWord(ins.args, vars, this.escape);
    const dir = posix.normalize(raw.startsWith('/') ? raw : posix.join(state.config.WorkingDir || '/', raw));
    state.config.WorkingDir = dir;
    const view = new LayerView(state.layers.map((l) => l.dir!).reverse());
    const resolved = await view.resolve(dir, true);
    const exists = resolved === '' || (await view.lookup(resolved))?.st.isDirectory();
    const createdBy = `WORKDIR ${dir}`;
    if (exists) {
      state.key = sha256(`${state.key}\n${createdBy}`);
      this.#history(state, createdBy, true);
      progress(true);
      return true;
    }
    const owner = state.config.User ? await this.#chown(state, state.config.User, ins) : undefined;
    const key = sha256(JSON.stringify(['WORKDIR', state.key, dir, owner]));
    return this.#layerStep(state, key, `${createdBy} # buildkit`, progress, (tar) => this.#writeCopyLayer(tar, view, [{ rel: resolved, type: 'directory', mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 }], owner));
  }

  /** Writes the image config and manifest, and tags the image. */
  async #finish(state: StageState): Promise<BuildResult> {
    const { ref, digest, configDigest } = await writeLocalImage(this.store, {
      platform: state.platform, config: state.config, layers: state.layers, history: state.history,
      tag: this.opts.tag, defaultName: 'localhost/slipway-build', storeDir: this.opts.storeDir,
    });
    debug('built %s (%s): %d cached, %d executed', ref, digest, this.cached, this.executed);
    return { ref, digest, configDigest, cached: this.cached, executed: this.executed };
  }
}

/** The instructions `docker commit --change` accepts. */
const CHANGE_KEYWORDS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK']);

/**
 * Docker's `commit --change`: applies Dockerfile config instructions (`ENV A=b`, `CMD ["x"]`, …) to a copy of
 * `config`, with the builder's own rules. ENTRYPOINT keeps the CMD (as `docker commit` does).
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` for an instruction commit cannot apply or a bad line
 */
export function applyConfigChanges(config: FullConfig, changes: readonly string[]): FullConfig {
  const state: StageState = {
    name: 'commit', layers: [], config: structuredClone(config), history: [], platform: hostPlatform(), key: '', args: new Map([['\0cmd-set', '1']]),
  };
  if (!changes.length) return state.config;
  let df: ReturnType<typeof parseDockerfile>;
  try {
    df = parseDockerfile(changes.join('\n'));
  } catch (e) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `commit changes: ${(e as Error).message}`, { hint: 'give Dockerfile instructions such as "ENV A=b" or "CMD [\\"sh\\"]"', cause: e });
  }
  const b = new Builder('/', df, parseDockerignore(''), {});
  for (const ins of df.instructions) {
    if (!CHANGE_KEYWORDS.has(ins.keyword)) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `commit changes: ${ins.keyword} cannot be applied by a commit`, { hint: `use one of ${[...CHANGE_KEYWORDS].join(', ')}` });
    }
    try {
      if (ins.keyword === 'WORKDIR') {
        const dir = expandWord(ins.args, b.vars(state), df.escape);
        state.config.WorkingDir = posix.normalize(dir.startsWith('/') ? dir : posix.join(state.config.WorkingDir || '/', dir));
      } else {
        b.metadata(state, ins);
      }
    } catch (e) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `commit changes: ${SlipwayError.is(e) ? e.shortMessage : (e as Error).message}`, { hint: 'give Dockerfile instructions such as "ENV A=b"', cause: e });
    }
  }
  return state.config;
}

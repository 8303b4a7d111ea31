/**
 * `RUN --mount=…`: what a step mounts while it runs, with BuildKit's options and defaults. Nothing mounted here reaches
 * the step's layer (the runtime leaves mount points out of the diff) or its cache record:
 * - `type=cache`: a directory kept in the store per id (default the target), shared by every build of this store;
 * - `type=tmpfs`;
 * - `type=secret`: the secret (from `BuildOptions.secrets`) as a read-only file bound from a private copy that is
 *   removed when the step ends, and/or as an environment variable (`env=`); secrets are not part of the cache key,
 *   as in BuildKit (changing a secret's value does not re-run a cached step);
 * - `type=bind` (the default type): a private copy of a directory or file of the context (after `.dockerignore`), of
 *   an earlier stage or of an image (`from=`), read-only unless `rw` — then writes land in the copy and are dropped.
 *   Its content hash is part of the cache key, as BuildKit digests a bind mount's source.
 * `type=ssh` is refused: slipway has no SSH agent forwarding.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import path, { posix } from 'node:path';
import { SlipwayError } from '../errors.js';
import { readInputBytes } from '../internal/read-input-file.js';
import type { Mount } from '../runtime/index.js';
import type { Instruction } from './dockerfile.js';
import { planCopy, type SourceTree } from './copy.js';

/**
 * Where a build secret's value comes from: a file on this machine or an environment variable of this process.
 * @example
 * import { Container } from 'slipway';
 * const image = await Container.fromDockerfile('./app', { secrets: { npmrc: { file: `${process.env.HOME}/.npmrc` }, token: { env: 'API_TOKEN' } } });
 * // Dockerfile: RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
 */
export type BuildSecret = { file: string } | { env: string };

/** What the builder offers the mounts of one RUN step. */
export interface RunMountContext {
  ins: Instruction;
  /** The stage's working directory (relative targets resolve against it). */
  workdir: string;
  /** The store's root (`type=cache` directories live below it). */
  storeRoot: string;
  /** The keeper's id-mapping key (cache directories are per mapping: their owners differ). */
  mappingKey: string;
  secrets: Readonly<Record<string, BuildSecret>>;
  /** A directory private to this process where mount copies are made (removed by `cleanup`). */
  privateDir: () => Promise<string>;
  /** Applies owners and modes below a directory (the keeper's ownership pass; `relpath\0uid\0gid\0mode\0` records). */
  applyOwnership: (dir: string, list: string) => Promise<void>;
  /** Removes a tree whose files may belong to the container's other ids. */
  removeTree: (p: string) => Promise<void>;
  /** The source of a bind mount: the context (`from` undefined), an earlier stage or an image; `key` names its state. */
  sourceTree: (from: string | undefined) => Promise<{ tree: SourceTree; key: string }>;
}

/** The mounts of a step, the environment they add, what the cache key must include, and the cleanup. */
export interface RunMounts {
  mounts: Mount[];
  /** `type=secret,env=NAME`: values for the step's environment (never stored, never in the cache key). */
  env: Record<string, string>;
  /** Content hashes of bind mounts' sources (the cache key includes them). */
  inputs: string[];
  cleanup: () => Promise<void>;
}

function mountError(ins: Instruction, spec: string, message: string, hint?: string): SlipwayError {
  return new SlipwayError('ERR_BUILD', `Dockerfile line ${ins.line} (RUN --mount=${spec}): ${message}`, { hint });
}

/** Splits `type=secret,id=x,required` into its options (a bare key reads as `true`), keeping the order. */
function options(spec: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    let v = i < 0 ? 'true' : part.slice(i + 1).trim();
    if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
    kv.set(k, v);
  }
  return kv;
}

function bool(v: string | undefined, ins: Instruction, spec: string, key: string): boolean {
  if (v === undefined) return false;
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw mountError(ins, spec, `${key}=${v} is not a boolean`, `use ${key}=true or ${key}=false`);
}

function idNumber(v: string | undefined, ins: Instruction, spec: string, key: string): number {
  if (v === undefined) return 0;
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw mountError(ins, spec, `${key}=${v} is not a numeric id`, `give ${key} as a number, e.g. ${key}=1000`);
  return Number(v);
}

function octalMode(v: string | undefined, def: number, ins: Instruction, spec: string): number {
  if (v === undefined) return def;
  if (!/^[0-7]{1,4}$/.test(v)) throw mountError(ins, spec, `mode=${v} is not an octal mode`, 'use e.g. mode=0400 or mode=0644');
  return parseInt(v, 8);
}

/** Reads a secret's value from where `BuildOptions.secrets` says (a file: at most 16 MiB, regular); undefined when that file or variable is absent. */
export async function secretValue(source: BuildSecret): Promise<Buffer | undefined> {
  if ('file' in source) {
    // A regular file of bounded size: a FIFO would hold the build until a writer came, /dev/zero fill memory.
    return readInputBytes(source.file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw new SlipwayError('ERR_BUILD', `cannot read the secret file ${source.file}: ${e.message}`, { hint: 'point it at a readable regular file (at most 16 MiB)', cause: e });
    });
  }
  const v = process.env[source.env];
  return v === undefined ? undefined : Buffer.from(v);
}

/**
 * Prepares the `--mount` flags of a RUN step. Call `cleanup()` when the step's container is gone (also on failure).
 * @throws SlipwayError `ERR_BUILD` for a bad option or a required secret that was not given, `ERR_UNSUPPORTED` for
 *   `type=ssh` or an unknown type, `ERR_BUILD_CONTEXT` for a bind source that is absent or outside the context
 */
export async function prepareRunMounts(ctx: RunMountContext): Promise<RunMounts> {
  const { ins } = ctx;
  const out: RunMounts = { mounts: [], env: {}, inputs: [], cleanup: async () => {} };
  const made: string[] = [];
  out.cleanup = async () => {
    for (const d of made.splice(0)) await ctx.removeTree(d).catch(() => rm(d, { recursive: true, force: true }));
  };
  const absolute = (t: string): string => posix.normalize(t.startsWith('/') ? t : posix.join(ctx.workdir, t));
  const privateCopy = async (): Promise<string> => {
    const d = await mkdtemp(path.join(await ctx.privateDir(), 'mount-'));
    made.push(d);
    return d;
  };
  try {
    for (const spec of ins.flags.mount ?? []) {
      const kv = options(spec);
      const type = (kv.get('type') ?? 'bind').toLowerCase();
      const rawTarget = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
      if (type === 'secret') {
        const envName = kv.get('env');
        const id = kv.get('id') ?? (rawTarget ? posix.basename(rawTarget) : undefined);
        if (!id) throw mountError(ins, spec, 'needs id=<secret id> (or a target to take it from)');
        if (envName !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) throw mountError(ins, spec, `env=${envName} is not a variable name`);
        const required = bool(kv.get('required'), ins, spec, 'required');
        const mode = octalMode(kv.get('mode'), 0o400, ins, spec);
        const uid = idNumber(kv.get('uid'), ins, spec, 'uid');
        const gid = idNumber(kv.get('gid'), ins, spec, 'gid');
        const source = Object.hasOwn(ctx.secrets, id) ? ctx.secrets[id] : undefined;
        const value = source && (await secretValue(source));
        if (value === undefined) {
          if (required) {
            throw mountError(ins, spec, `the secret ${JSON.stringify(id)} is required but was not given${source ? ` (${'file' in source ? `file ${source.file}` : `variable ${source.env}`} is absent)` : ''}`,
              `pass it: secrets: { ${JSON.stringify(id)}: { file: '…' } } (or { env: 'VAR' }), or \`slipway build --secret id=${id},src=<file>\``);
          }
          continue; // Docker skips an optional secret that is not given.
        }
        if (envName !== undefined) out.env[envName] = value.toString('utf8');
        // env= alone exposes the secret as a variable only; a target as well mounts the file too.
        if (envName !== undefined && rawTarget === undefined) continue;
        const target = absolute(rawTarget ?? `/run/secrets/${id}`);
        const dir = await privateCopy();
        const file = path.join(dir, 'secret');
        await writeFile(file, value, { mode: 0o600, flag: 'wx' });
        await chmod(file, mode);
        if (uid !== 0 || gid !== 0 || (mode & 0o7000) !== 0) {
          const list = path.join(dir, 'owners');
          await writeFile(list, ['secret', String(uid), String(gid), mode.toString(8), ''].join('\0'));
          await ctx.applyOwnership(dir, list);
          await rm(list, { force: true });
        }
        out.mounts.push({ kind: 'bind', source: file, target, readonly: true });
      } else if (type === 'bind') {
        if (!rawTarget) throw mountError(ins, spec, 'needs target=<path>');
        const from = kv.get('from');
        const sourcePath = kv.get('source') ?? kv.get('src') ?? '.';
        const rw = bool(kv.get('rw') ?? kv.get('readwrite'), ins, spec, 'rw');
        const { tree, key } = await ctx.sourceTree(from);
        const resolved = await tree.resolveSource(sourcePath);
        const st = await tree.stat(resolved);
        if (!st || tree.ignored(resolved)) {
          throw new SlipwayError('ERR_BUILD_CONTEXT', `Dockerfile line ${ins.line} (RUN --mount=${spec}): source ${JSON.stringify(sourcePath)} not found in ${from === undefined ? 'the build context' : from}${st ? ' (excluded by .dockerignore)' : ''}`, {
            hint: 'check source= (relative to the context or the stage root) and .dockerignore',
          });
        }
        const isDir = st.type === 'directory';
        // The copy's layout: a directory's contents at the copy's root, a file under its own name.
        const plan = await planCopy(tree, { sources: [sourcePath], dest: '/' }, async () => true);
        out.inputs.push(createHash('sha256').update(JSON.stringify([key, sourcePath, plan.hash])).digest('hex'));
        const dir = await privateCopy();
        const root = path.join(dir, 'src');
        await mkdir(root, { mode: 0o700 });
        for (const it of plan.items) {
          const p = path.join(root, it.rel);
          if (it.type === 'directory') await mkdir(p, { recursive: true });
          else if (it.type === 'symlink') await symlink(it.linkname ?? '', p);
          else if (it.file) await pipeline(Readable.from(it.file.chunks()), createWriteStream(p, { flags: 'wx' }));
          else await writeFile(p, it.content ?? Buffer.alloc(0));
        }
        // Modes after the contents (a read-only directory would refuse its own files); deepest first.
        for (const it of [...plan.items].reverse()) if (it.type !== 'symlink') await chmod(path.join(root, it.rel), it.mode);
        await chmod(root, isDir ? st.mode : 0o755);
        const source = isDir ? root : path.join(root, posix.basename(resolved));
        out.mounts.push({ kind: 'bind', source, target: absolute(rawTarget), readonly: !rw });
      } else if (type === 'tmpfs') {
        if (!rawTarget) throw mountError(ins, spec, 'needs target=<path>');
        out.mounts.push({ kind: 'tmpfs', target: absolute(rawTarget) });
      } else if (type === 'cache') {
        if (!rawTarget) throw mountError(ins, spec, 'needs target=<path>');
        const target = absolute(rawTarget);
        const id = createHash('sha256').update(`${ctx.mappingKey}\0${kv.get('id') ?? target}`).digest('hex').slice(0, 32);
        const dir = path.join(ctx.storeRoot, 'build-mounts', id);
        await mkdir(dir, { recursive: true, mode: 0o755 });
        out.mounts.push({ kind: 'bind', source: dir, target, readonly: false });
      } else if (type === 'ssh') {
        throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (RUN --mount=${spec}): type=ssh is not supported: slipway does not forward an SSH agent into builds`, {
          hint: 'fetch what needs SSH before the build (into the context), or pass a deploy key as a secret: --mount=type=secret,id=key',
        });
      } else {
        throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (RUN --mount=${spec}): unknown mount type ${JSON.stringify(type)}`, {
          hint: 'use type=bind, cache, tmpfs or secret',
        });
      }
    }
  } catch (e) {
    await out.cleanup();
    throw e;
  }
  return out;
}

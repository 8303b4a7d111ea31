/**
 * `slipway build -t name[:tag] [-f Dockerfile] [--build-arg K=V] [--target T] [--no-cache] CONTEXT`: builds an image
 * from a Dockerfile on slipway's own runtime and tags it in the store; progress on stderr (a live view on a terminal,
 * plain lines otherwise: `build-progress.ts`), the image reference on stdout.
 */
import { parseArgs } from 'node:util';
import type { BuildProgress } from '../build/builder.js';
import type { BuildSecret } from '../build/run-mounts.js';
import { SlipwayError } from '../errors.js';
import { UsageError } from './usage-error.js';
import { write, type CliIO } from './io.js';
import { BuildProgressView } from './build-progress.js';
import { outputSpec } from './image-commands.js';

export interface BuildCommand {
  command: 'build';
  context: string;
  tag?: string;
  dockerfile?: string;
  buildArgs: Record<string, string>;
  target?: string;
  cache: boolean;
  quiet: boolean;
  /** `--secret id=…,src=…|env=…` (Docker's): secrets for `RUN --mount=type=secret`. */
  secrets?: Record<string, BuildSecret>;
  /** Also export the result: `oci-layout:<dir>[:tag]` or `docker-archive:<file>` (`-o`, `--output`). */
  output?: string;
  /** `--platform os/arch[/variant]`: the platform to build for. */
  platform?: string;
}

/** Parses the arguments after `build`. @throws {@link UsageError} */
export function parseBuild(args: readonly string[], env: NodeJS.ProcessEnv = process.env): BuildCommand | { command: 'help'; topic: 'build' } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args], allowPositionals: true, strict: true,
      options: {
        tag: { type: 'string', short: 't' }, file: { type: 'string', short: 'f' }, 'build-arg': { type: 'string', multiple: true },
        secret: { type: 'string', multiple: true }, platform: { type: 'string' },
        target: { type: 'string' }, 'no-cache': { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/\.$/, ''), 'see `slipway help build` for the options');
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', topic: 'build' };
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length ? `\`slipway build\` takes one context directory, got ${positionals.length}` : '`slipway build` needs a context directory', 'e.g. `slipway build -t app:test .`');
  }
  const buildArgs: Record<string, string> = {};
  for (const a of values['build-arg'] ?? []) {
    const i = a.indexOf('=');
    const k = i < 0 ? a : a.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`invalid --build-arg "${a}"`, 'use --build-arg NAME=value (or NAME to pass it from this environment)');
    // Docker: `--build-arg NAME` takes the value from the environment, and is left out when unset there.
    const v = i < 0 ? env[k] : a.slice(i + 1);
    if (v !== undefined) buildArgs[k] = v;
  }
  const secrets: Record<string, BuildSecret> = {};
  for (const a of values.secret ?? []) {
    const [id, secret] = parseSecret(a, env);
    secrets[id] = secret;
  }
  if (values.tag !== undefined && !/^[^\s]+$/.test(values.tag)) throw new UsageError(`invalid --tag "${values.tag}"`, 'use name[:tag], e.g. -t app:test');
  return {
    command: 'build', context: positionals[0]!, tag: values.tag, dockerfile: values.file, buildArgs, target: values.target,
    cache: !values['no-cache'], quiet: !!values.quiet,
    ...(Object.keys(secrets).length ? { secrets } : {}),
    ...(values.output !== undefined ? { output: outputSpec(values.output) } : {}),
    ...(values.platform !== undefined ? { platform: values.platform } : {}),
  };
}

/**
 * Docker's `--secret id=x[,src=path|,env=VAR][,type=file|env]`: without src or env, the variable named by the id
 * when this environment has it, else the file named by the id.
 */
function parseSecret(arg: string, env: NodeJS.ProcessEnv): [string, BuildSecret] {
  const kv = new Map<string, string>();
  for (const part of arg.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid --secret "${arg}": "${part}" is not key=value`, 'use --secret id=NAME,src=FILE or --secret id=NAME,env=VAR');
    kv.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1));
  }
  const id = kv.get('id');
  if (!id) throw new UsageError(`invalid --secret "${arg}": id= is missing`, 'use --secret id=NAME,src=FILE or --secret id=NAME,env=VAR');
  for (const k of kv.keys()) {
    if (!['id', 'src', 'source', 'env', 'type'].includes(k)) throw new UsageError(`invalid --secret "${arg}": unknown key ${k}`, 'the keys are id, src (or source), env and type');
  }
  const type = kv.get('type');
  if (type !== undefined && type !== 'file' && type !== 'env') throw new UsageError(`invalid --secret "${arg}": type=${type}`, 'use type=file or type=env');
  const src = kv.get('src') ?? kv.get('source');
  if (type === 'env' || (type === undefined && src === undefined && (kv.has('env') || env[id] !== undefined))) return [id, { env: kv.get('env') ?? src ?? id }];
  return [id, { file: src ?? id }];
}

/** Runs the build. @returns the exit status (0; 130/143 when interrupted) */
export async function buildCommand(cmd: BuildCommand, io: CliIO): Promise<number> {
  const abort = new AbortController();
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const off = io.onSignal((s) => {
    interrupted ??= s;
    abort.abort(new SlipwayError('ERR_ABORTED', `interrupted by ${s}`));
  });
  const t0 = Date.now();
  const view = cmd.quiet ? undefined : new BuildProgressView(io.stderr);
  const show = (e: BuildProgress): void => view?.update(e);
  try {
    const { Container } = await import('../api/container.js');
    const ref = await Container.fromDockerfile(cmd.context, {
      dockerfile: cmd.dockerfile, buildArgs: cmd.buildArgs, target: cmd.target, cache: cmd.cache, tag: cmd.tag,
      secrets: cmd.secrets, platform: cmd.platform, signal: abort.signal, onProgress: show,
    });
    view?.finish(true);
    if (!cmd.quiet) await write(io.stderr, `built ${ref} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (cmd.output) {
      const { exportImage } = await import('../api/image-out.js');
      const r = await exportImage(ref, cmd.output, { signal: abort.signal, env: io.env });
      if (!cmd.quiet) await write(io.stderr, `exported to ${r.dest}\n`);
    }
    await write(io.stdout, `${ref}\n`);
    return 0;
  } catch (e) {
    view?.finish(false);
    if (interrupted) return interrupted === 'SIGINT' ? 130 : 143;
    throw e;
  } finally {
    off();
  }
}

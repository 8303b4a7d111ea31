/**
 * `slipway save -o DEST IMAGE` (export a stored image to `oci-layout:<dir>[:tag]` or `docker-archive:<file.tar>`;
 * a bare path is a docker archive, as `docker save -o`) and `slipway push IMAGE [DEST]` (send it to a registry).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SlipwayError } from '../errors.js';
import { UsageError } from './usage-error.js';
import { write, type CliIO } from './io.js';
import { formatBytes, shortDigest } from './progress.js';

export interface SaveCommand { command: 'save'; ref: string; output: string; platform?: string }
export interface PushCommand { command: 'push'; ref: string; to?: string; platform?: string; insecure: boolean }

/** `-o` values: `oci-layout:…` and `docker-archive:…` as given, a bare path as a docker archive. */
export function outputSpec(value: string): string {
  if (value.startsWith('oci-layout:') || value.startsWith('docker-archive:')) return value;
  if (/^[a-z][a-z0-9+-]*:/.test(value) && !value.includes('/')) {
    throw new UsageError(`unknown output "${value}"`, 'use oci-layout:<dir>[:tag], docker-archive:<file.tar> or a file path');
  }
  return `docker-archive:${value}`;
}

function parse(command: 'save' | 'push', args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: [...args], allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean', short: 'h' } } }) as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/\.$/, ''), `see \`slipway help ${command}\` for the options`);
  }
}

/** Parses the arguments after `save`. @throws {@link UsageError} */
export function parseSave(args: readonly string[]): SaveCommand | { command: 'help'; topic: 'save' } {
  const { values, positionals } = parse('save', args, { output: { type: 'string', short: 'o' }, platform: { type: 'string' } });
  if (values.help) return { command: 'help', topic: 'save' };
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `\`slipway save\` takes one image, got ${positionals.length}` : '`slipway save` needs an image', 'e.g. `slipway save -o app.tar app:test`');
  if (typeof values.output !== 'string' || !values.output) throw new UsageError('`slipway save` needs -o DEST', 'e.g. -o app.tar, -o docker-archive:app.tar or -o oci-layout:./app-oci');
  return { command: 'save', ref: positionals[0]!, output: outputSpec(values.output), ...(typeof values.platform === 'string' ? { platform: values.platform } : {}) };
}

/** Parses the arguments after `push`. @throws {@link UsageError} */
export function parsePush(args: readonly string[]): PushCommand | { command: 'help'; topic: 'push' } {
  const { values, positionals } = parse('push', args, { platform: { type: 'string' }, insecure: { type: 'boolean' } });
  if (values.help) return { command: 'help', topic: 'push' };
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError(positionals.length ? `\`slipway push\` takes an image and an optional destination, got ${positionals.length} arguments` : '`slipway push` needs an image', 'e.g. `slipway push localhost:5000/app:1` or `slipway push app:test registry.example.com/team/app:1`');
  }
  return {
    command: 'push', ref: positionals[0]!, ...(positionals[1] ? { to: positionals[1] } : {}),
    ...(typeof values.platform === 'string' ? { platform: values.platform } : {}), insecure: values.insecure === true,
  };
}

function interruptible(io: CliIO): { signal: AbortSignal; interrupted: () => 'SIGINT' | 'SIGTERM' | undefined; off: () => void } {
  const abort = new AbortController();
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const off = io.onSignal((s) => {
    interrupted ??= s;
    abort.abort(new SlipwayError('ERR_ABORTED', `interrupted by ${s}`));
  });
  return { signal: abort.signal, interrupted: () => interrupted, off };
}

/** Runs `work` with a signal Ctrl-C (or SIGTERM) aborts; an interrupted run exits 130 (143 for SIGTERM). */
async function untilInterrupted(io: CliIO, work: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const run = interruptible(io);
  try {
    return await work(run.signal);
  } catch (e) {
    const s = run.interrupted();
    if (s) return s === 'SIGINT' ? 130 : 143;
    throw e;
  } finally {
    run.off();
  }
}

/** `slipway save`: the destination on stdout, a summary on stderr. */
export async function saveCommand(cmd: SaveCommand, io: CliIO): Promise<number> {
  const { exportImage } = await import('../api/image-out.js');
  return untilInterrupted(io, async (signal) => {
    const r = await exportImage(cmd.ref, cmd.output, { platform: cmd.platform, signal, env: io.env });
    const bytes = r.layers.reduce((n, l) => n + l.size, 0);
    await write(io.stderr, `saved ${r.ref} (${r.layers.length} layer${r.layers.length === 1 ? '' : 's'}, ${formatBytes(bytes)} compressed) to ${r.dest}\n`);
    await write(io.stdout, `${r.dest}\n`);
    return 0;
  });
}

/** `slipway push`: one line per blob on stderr, `ref@digest` on stdout. */
export async function pushCommand(cmd: PushCommand, io: CliIO): Promise<number> {
  const { pushImage } = await import('../api/image-out.js');
  const { parseReference } = await import('../image/reference.js');
  return untilInterrupted(io, async (signal) => {
    const to = cmd.to ?? cmd.ref;
    const r = await pushImage(cmd.ref, {
      to, platform: cmd.platform, signal, env: io.env,
      insecureRegistries: cmd.insecure ? [parseReference(to).domain] : undefined,
      onProgress: (e) => {
        if (e.status !== 'uploading') io.stderr.write(`${shortDigest(e.digest)}: ${e.status === 'exists' ? 'already there' : e.status} (${formatBytes(e.size)})\n`);
      },
    });
    await write(io.stderr, `pushed ${r.ref}: ${r.uploaded} uploaded, ${r.mounted} mounted, ${r.existing} already there\n`);
    await write(io.stdout, `${r.ref}@${r.digest}\n`);
    return 0;
  });
}

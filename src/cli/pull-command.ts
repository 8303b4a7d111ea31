import { pull } from '../image/pull.js';
import { platformString } from '../image/platform.js';
import { SlipwayError } from '../errors.js';
import type { PullCommand } from './args.js';
import type { CliIO } from './io.js';
import { ProgressView } from './progress.js';

/**
 * `slipway pull`: pulls into the store under the same id mapping `run` uses (so a later run starts
 * offline), shows progress on stderr and prints the digest on stdout.
 * @returns the exit status (0, or 130 when interrupted)
 */
export async function pullCommand(cmd: PullCommand, io: CliIO): Promise<number> {
  const abort = new AbortController();
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const off = io.onSignal((s) => {
    interrupted ??= s;
    abort.abort(new SlipwayError('ERR_ABORTED', `interrupted by ${s}`));
  });
  const view = new ProgressView(io.stderr, cmd.ref);
  try {
    if (!io.stderr.isTTY) io.stderr.write(`pulling ${cmd.ref}${cmd.platform ? ` (${cmd.platform})` : ''}\n`);
    // On the engine runtime the engine pulls into its own store (the one its containers start from).
    const { pullOnEngine } = await import('../runtime/index.js');
    const image = await pullOnEngine(cmd.ref, { policy: cmd.policy, platform: cmd.platform, signal: abort.signal, timeout: cmd.timeout, onProgress: (e) => view.update(e) })
      ?? await pull(cmd.ref, {
        policy: cmd.policy, platform: cmd.platform, signal: abort.signal, env: io.env, timeout: cmd.timeout,
        onProgress: (e) => view.update(e),
        ...(await ownership()),
      });
    view.finish();
    io.stderr.write(`${image.ref} (${platformString(image.platform)}): ${image.layers.length} layer${image.layers.length === 1 ? '' : 's'}, ${image.source === 'cache' ? 'already in the store' : `from ${image.source}`}${image.pulledFrom && image.pulledFrom !== image.ref ? ` (${image.pulledFrom})` : ''}\n`);
    // As `docker load` says it: the names the image is now listed under (`slipway images`, `slipway rmi`).
    for (const name of ('loadedAs' in image ? image.loadedAs : undefined) ?? []) io.stderr.write(`Loaded image: ${name}\n`);
    io.stdout.write(`${image.digest}\n`);
    return 0;
  } catch (e) {
    view.finish();
    if (interrupted) return interrupted === 'SIGINT' ? 130 : 143;
    throw e;
  } finally {
    off();
  }
}

/**
 * Layers are stored per id mapping. As root the mapping is the identity and pull's own lchown applies it;
 * rootless, the keeper (in its user namespace) knows the mapping and chowns to subordinate ids.
 */
async function ownership(): Promise<{ mappingKey?: string; applyOwnership?: (dir: string, list: string) => Promise<void>; removeTree?: (p: string) => Promise<void> }> {
  if (process.getuid?.() === 0) return {};
  const { layerOwnership } = await import('../runtime/index.js');
  return layerOwnership();
}

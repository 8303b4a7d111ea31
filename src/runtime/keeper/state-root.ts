import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir } from '../../internal/private-dir.js';
import { configValue } from '../../config/index.js';

/**
 * Where keepers keep per-container state: the `stateDir` setting (`$SLIPWAY_STATE_DIR`, a config file), else `$XDG_RUNTIME_DIR/slipway` if that dir is writable,
 * else `/run/slipway` as root, else `$TMPDIR/slipway-<uid>`. Created 0700 without following links;
 * an existing one must be a real directory we own (its mode is tightened to 0700).
 * @throws SlipwayError `ERR_RUNTIME` naming the path when it is a symlink, not ours, or cannot be created.
 */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return stateRootChoice(env).dir;
}

/**
 * {@link stateRoot}, and whether the `stateDir` setting chose it (`explicit`: respected as it is, tmpfs or not) or it
 * was found (see `upperPlacement`).
 * @throws SlipwayError `ERR_RUNTIME`, as {@link stateRoot}.
 */
export function stateRootChoice(env: NodeJS.ProcessEnv = process.env): { dir: string; explicit: boolean } {
  const uid = process.getuid!();
  let dir: string;
  const xdg = env.XDG_RUNTIME_DIR;
  const configured = configValue('stateDir', env);
  if (configured) dir = configured;
  else if (xdg && writable(xdg)) dir = join(xdg, 'slipway');
  else if (uid === 0) dir = '/run/slipway';
  else dir = join(env.TMPDIR || tmpdir(), `slipway-${uid}`);
  ensurePrivateDir(dir, 'ERR_RUNTIME', `remove ${dir} if it is not yours (rm ${dir}), or set stateDir (SLIPWAY_STATE_DIR) to a directory only you can write`);
  return { dir, explicit: Boolean(configured) };
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

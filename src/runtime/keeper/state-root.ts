import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';

/**
 * Where keepers keep per-container state: `$XDG_RUNTIME_DIR/slipway` if that dir is writable,
 * else `/run/slipway` as root, else `<tmpdir>/slipway-<uid>`. Created with mode 0700.
 * @throws SlipwayError `ERR_RUNTIME` when the directory cannot be created or is not ours.
 */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid!();
  let dir: string;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && writable(xdg)) dir = join(xdg, 'slipway');
  else if (uid === 0) dir = '/run/slipway';
  else dir = join(tmpdir(), `slipway-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (st.uid !== uid) throw new Error(`owned by uid ${st.uid}`);
  } catch (cause) {
    throw new SlipwayError('ERR_RUNTIME', `cannot use state directory ${dir}: ${(cause as Error).message}`, {
      hint: 'set XDG_RUNTIME_DIR to a directory you own', cause,
    });
  }
  return dir;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SlipwayError } from '../../errors.js';
import { moduleUrl } from '../../internal/module-url.js';

/** The package root: the nearest ancestor of this module whose package.json is slipway's. */
export function packageRoot(from: string = dirname(fileURLToPath(moduleUrl))): string {
  let dir = from;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'slipway') return dir;
      } catch {
        /* not ours; keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new SlipwayError('ERR_HELPER_MISSING', `cannot find the slipway package root above ${from}`, { hint: 'set SLIPWAY_HELPER to the path of slipway-helper' });
    dir = up;
  }
}

/**
 * Path of the native helper: `$SLIPWAY_HELPER` if set, else `<package>/native/build/slipway-helper`.
 * @throws SlipwayError `ERR_HELPER_MISSING` when the file is absent or not executable.
 */
export function helperPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.SLIPWAY_HELPER;
  const root = override ? undefined : packageRoot();
  const path = override ?? join(root!, 'native', 'build', 'slipway-helper');
  try {
    accessSync(path, constants.X_OK);
  } catch (cause) {
    const hint = override
      ? `SLIPWAY_HELPER points to ${path}, which is not an executable file; unset it or build the helper`
      : `run: make -C ${join(root!, 'native')} (needs a C compiler: apt-get install build-essential), or npm rebuild slipway`;
    throw new SlipwayError('ERR_HELPER_MISSING', `native helper not found at ${path}`, { hint, cause });
  }
  return path;
}

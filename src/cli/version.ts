import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleUrl } from '../internal/module-url.js';

/** slipway's version, from the nearest package.json named "slipway" above this module (source or dist). */
export function version(): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'slipway' && pkg.version) return pkg.version;
    } catch {
      // no package.json here (or the CommonJS marker without a name); keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

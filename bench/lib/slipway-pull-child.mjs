// Child process for scenario 1: one cold `pull()` of slipway into the store named by
// $SLIPWAY_CACHE_DIR (an empty temp dir). Prints {"ms": <time of the pull() call>} on stdout.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_DIR } from './context.mjs';

const ref = process.argv[2];
const candidates = ['dist/esm/index.js', 'dist/esm/image/pull.js'];
let pull;
for (const c of candidates) {
  const file = join(REPO_DIR, c);
  if (!existsSync(file)) continue;
  const mod = await import(file);
  if (typeof mod.pull === 'function') { pull = mod.pull; break; }
}
if (!pull) {
  process.stdout.write(JSON.stringify({ skip: 'slipway has no pull() yet (looked in dist/esm/index.js and dist/esm/image/pull.js)' }));
  process.exit(0);
}
const t0 = performance.now();
try {
  await pull(ref, {});
} catch (e) {
  process.stdout.write(JSON.stringify({ skip: `${e.code ? `${e.code}: ` : ''}${String(e.message).split('\n')[0]}` }));
  process.exit(0);
}
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms }));
process.exit(0); // a keeper or sockets may still hold the loop; the pull is done

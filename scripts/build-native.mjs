// Builds the native helper (native/) with make. Runs on `npm install` / `npm ci` of this repo.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'native', 'Makefile'))) process.exit(0);
const r = spawnSync('make', ['-C', join(root, 'native')], { stdio: 'inherit' });
if (r.error || r.status !== 0) {
  console.error('slipway: building the native helper failed; install a C compiler, make and libseccomp (apt-get install build-essential libseccomp-dev; Fedora: dnf install gcc make libseccomp-devel), then run `npm rebuild slipway` or `make -C native`.');
  process.exit(r.status ?? 1);
}

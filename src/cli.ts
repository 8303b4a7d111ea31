#!/usr/bin/env node
/**
 * The `slipway` command (package.json `bin`): run, pull, images, prune. See `slipway help`.
 * @packageDocumentation
 */
import { main } from './cli/main.js';

// `slipway images | head`: a closed pipe ends the command quietly, as for other Unix tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`slipway: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(1);
  },
);

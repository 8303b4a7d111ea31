#!/usr/bin/env node
/**
 * The `slipway` command (package.json `bin`): run, pull, images, prune. See `slipway help`.
 * @packageDocumentation
 */
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`slipway: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(1);
  },
);

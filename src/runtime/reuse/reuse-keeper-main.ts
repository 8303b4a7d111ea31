/**
 * Entry point of the reuse keeper process (spawned detached by `reuse-client.ts`; never imported by the library).
 */
import { runReuseKeeper } from './reuse-keeper.js';

void runReuseKeeper().catch((e: unknown) => {
  process.stderr.write(`slipway reuse keeper: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});

// A vitest project run by test/integration/runners/orphan.test.ts, which SIGKILLs its main process.
// Forked workers (vitest 3's default pool) outlive their main process until their file ends.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  cacheDir: process.env.FIXTURE_CACHE_DIR,
  test: {
    include: ['holds-container.spec.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    // FIXTURE_GLOBAL_SETUP=1: with slipway/vitest's globalSetup (SLIPWAY_RUN_PID); else a bare run.
    globalSetup: process.env.FIXTURE_GLOBAL_SETUP ? ['./global-setup.ts'] : [],
  },
});

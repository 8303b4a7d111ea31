// A jest project run by test/integration/runners/orphan.test.ts, which SIGKILLs jest's main process.
// Two files and two workers, so jest forks workers instead of running in band; FIXTURE_GLOBAL_SETUP=1
// adds slipway/jest's globalSetup (SLIPWAY_RUN_PID).
module.exports = {
  rootDir: __dirname,
  testMatch: ['**/*.spec.cjs'],
  testEnvironment: 'node',
  testTimeout: 600000,
  maxWorkers: 2,
  cacheDirectory: process.env.FIXTURE_CACHE_DIR,
  ...(process.env.FIXTURE_GLOBAL_SETUP ? { globalSetup: './global-setup.cjs' } : {}),
};

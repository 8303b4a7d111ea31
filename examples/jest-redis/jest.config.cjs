// A CommonJS jest project: one Redis for the whole run (global-setup.cjs), shared by test files in
// jest's worker processes through slipway's inject().
module.exports = {
  testEnvironment: 'slipway/jest/environment',
  globalSetup: './global-setup.cjs',
  globalTeardown: './global-teardown.cjs',
  // .mjs test files are ES modules: run jest with node --experimental-vm-modules for those.
  testMatch: ['**/*.test.cjs', '**/*.test.mjs'],
  testTimeout: 60000,
};

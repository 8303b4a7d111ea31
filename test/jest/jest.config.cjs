// Proves that CommonJS consumers (jest users) can require('slipway') and run a real container.
// Run after `npm run build`: npx jest --config test/jest/jest.config.cjs
module.exports = {
  rootDir: __dirname,
  testMatch: ['**/*.test.cjs'],
  testEnvironment: 'node',
  testTimeout: 120000,
};

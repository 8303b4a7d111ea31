// slipway/vitest's globalSetup without containers: it only marks this process as the run's root.
export { default } from '../../../src/vitest.js';

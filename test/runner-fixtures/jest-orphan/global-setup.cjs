// slipway/jest's globalSetup without containers: it only marks jest's main process as the run's root.
module.exports = require('../../../dist/cjs/jest.js').defineGlobalSetup(() => {});

module.exports = require('slipway/jest').globalTeardown;

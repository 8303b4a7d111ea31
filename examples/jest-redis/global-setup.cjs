const { RedisContainer } = require('slipway');
const { defineGlobalSetup } = require('slipway/jest');

// Runs once in jest's main process; what `use` registers is removed by global-teardown.cjs (and
// with the run if jest is killed).
module.exports = defineGlobalSetup(async ({ use, provide }) => {
  const redis = await use(new RedisContainer('redis:7').start());
  provide('redisUrl', redis.getConnectionUrl());
});

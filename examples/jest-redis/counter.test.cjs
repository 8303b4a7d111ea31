const Redis = require('ioredis');
const { inject } = require('slipway/jest');

let redis;
beforeAll(() => { redis = new Redis(inject('redisUrl')); });
afterAll(() => redis.quit());

test('counts with the run-wide Redis', async () => {
  await redis.del('visits');
  await redis.incr('visits');
  expect(await redis.incrby('visits', 41)).toBe(42);
});

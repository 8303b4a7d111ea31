// The same from an ES module test file (jest runs those with node --experimental-vm-modules).
import Redis from 'ioredis';
import { inject } from 'slipway/jest';

test('ESM: the run-wide Redis answers', async () => {
  const redis = new Redis(inject('redisUrl'));
  try {
    expect(await redis.ping()).toBe('PONG');
  } finally {
    redis.disconnect();
  }
});

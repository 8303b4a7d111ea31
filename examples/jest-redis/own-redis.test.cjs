// A Redis of this file's own: started in beforeAll, removed after the file's tests.
const Redis = require('ioredis');
const { RedisContainer } = require('slipway');
const { useContainer } = require('slipway/jest');

const own = useContainer(() => new RedisContainer('redis:7').withPassword('s3cret').start());

test('a password-protected Redis of its own', async () => {
  const client = new Redis(own().getConnectionUrl());
  try {
    await client.set('greeting', 'hello');
    expect(await client.get('greeting')).toBe('hello');
  } finally {
    client.disconnect();
  }
});

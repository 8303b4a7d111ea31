// A jest suite written the way a CommonJS user would: require('slipway') resolves to dist/cjs.
const { Container, SlipwayError } = require('slipway');
const { GenericContainer } = require('slipway/testcontainers');

const registry = process.env.SLIPWAY_TEST_REGISTRY;
const describeIfRegistry = registry ? describe : describe.skip;
if (!registry) console.warn('!! SKIPPED jest container test: SLIPWAY_TEST_REGISTRY is not set (scripts/test-all.sh starts the registry)');

test('require("slipway") gives the CommonJS build with typed errors', () => {
  expect(require.resolve('slipway')).toMatch(/dist\/cjs\/index\.js$/);
  expect(() => new Container('busybox').withMemory('lots')).toThrow(SlipwayError);
});

describeIfRegistry('a real container from jest', () => {
  test('runs busybox through the testcontainers names', async () => {
    const c = await new GenericContainer(`${registry}/library/busybox:latest`).withCommand(['sleep', '100']).start();
    try {
      const r = await c.exec(['sh', '-c', 'echo hi from $(hostname)']);
      expect(r.exitCode).toBe(0);
      expect(r.output).toMatch(/^hi from \w+/);
    } finally {
      await c.stop();
    }
  });
});

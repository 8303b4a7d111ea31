// Names testcontainers-node's suite and users import from 'testcontainers' that slipway/testcontainers must have.
import { describe, expect, it } from 'vitest';
import * as tc from '../../../src/testcontainers.js';

describe('slipway/testcontainers surface', () => {
  it('exports the wait strategy classes, the same ones Wait makes', () => {
    expect(tc.Wait.forHttp('/', 80)).toBeInstanceOf(tc.HttpWaitStrategy);
    expect(new tc.HttpWaitStrategy('/hello-world', 8080, {}).withStartupTimeout(5)).toBeInstanceOf(tc.AbstractWaitStrategy);
    expect(tc.Wait.forListeningPorts()).toBeInstanceOf(tc.HostPortWaitStrategy);
    expect(tc.Wait.forLogMessage('x')).toBeInstanceOf(tc.LogWaitStrategy);
    expect(tc.Wait.forSuccessfulCommand('true')).toBeInstanceOf(tc.ShellWaitStrategy);
    expect(tc.Wait.forHealthCheck()).toBeInstanceOf(tc.HealthCheckWaitStrategy);
    expect(tc.Wait.forOneShotStartup()).toBeInstanceOf(tc.OneShotStartupWaitStrategy);
    expect(tc.Wait.forAll([])).toBeInstanceOf(tc.CompositeWaitStrategy);
  });
});

describe('withReuse (within the test process)', () => {
  const key = (c: tc.GenericContainer) => (c as unknown as { container: import('../../../src/api/container.js').Container }).container;
  it('keys on the configuration, not on how to wait or pull', async () => {
    const { reuseKey } = await import('../../../src/testcontainers/reuse.js');
    const a = new tc.GenericContainer('redis:7').withExposedPorts(6379).withName('x').withReuse();
    const b = new tc.GenericContainer('redis:7').withExposedPorts(6379).withName('x').withReuse()
      .withWaitStrategy(tc.Wait.forLogMessage('ready')).withStartupTimeout(5).withPullPolicy('always');
    const c = new tc.GenericContainer('redis:7').withExposedPorts(6379).withName('x').withEnvironment({ A: '1' });
    expect(reuseKey(key(a))).toBe(reuseKey(key(b)));
    expect(reuseKey(key(a))).not.toBe(reuseKey(key(c)));
  });
});

import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { GenericContainer, Network, Wait } from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write('PING\r\n'));
    s.once('data', (d) => { s.destroy(); resolve(d.toString()); });
    s.once('error', reject);
  });
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('testcontainers names', () => {
  it('a testcontainers-style test runs unchanged but for the import', async () => {
    const network = await new Network().start();
    const container = await new GenericContainer(fixtureRef('redis'))
      .withExposedPorts(6379)
      .withNetwork(network).withNetworkAliases('cache')
      .withEnvironment({ FOO: 'bar' })
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .withStartupTimeout(30_000)
      .start();
    try {
      expect(container.getHost()).toBe('127.0.0.1');
      expect(await ping(container.getMappedPort(6379))).toBe('+PONG\r\n');
      // The alias resolves (natively through /etc/hosts, on an engine through its DNS).
      const { output, exitCode } = await container.exec(['sh', '-c', 'echo $FOO; getent hosts cache | grep -cw cache']);
      expect(exitCode).toBe(0);
      expect(output).toBe('bar\n1\n');
      const logs = await container.logs();
      const first = await new Promise<string>((resolve) => logs.once('data', (d: Buffer) => resolve(d.toString())));
      expect(first.length).toBeGreaterThan(0);
      logs.destroy();
    } finally {
      await container.stop();
      await network.stop();
    }
  });
});

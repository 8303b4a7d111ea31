/**
 * testcontainers-node v12.1.0 `generic-container-network.test.ts` and `network.test.ts`, ported in our words to
 * `slipway/testcontainers` with its own image (cristianrgreco/testcontainer:1.1.14) from the test registry.
 * Where upstream inspects Docker, the slipway-observable equivalent is asserted instead:
 * - withNetworkMode("host") (HostConfig.NetworkMode): the container sees the host's interfaces, and its server is
 *   reachable on the host's loopback without a published port.
 * - joining a network by name or object (NetworkSettings.Networks): getNetworkNames() lists it, and a container on it
 *   reaches the other by name.
 */
import { expect, it } from 'vitest';
import { GenericContainer, Network, RandomUuid } from '../../../src/testcontainers.js';
import { skipUnless } from '../harness/index.js';
import { canRun, cannotRunReason, freeTcpPort, IMAGE, useHubPrefix } from './upstream.js';

skipUnless(canRun, cannotRunReason)('GenericContainer network and Network (testcontainers-node suite, ported)', { timeout: 180_000 }, () => {
  useHubPrefix();

  it('withNetworkMode("host"): the container shares the host network (its server answers on the host loopback)', async () => {
    await using c = await new GenericContainer(IMAGE).withNetworkMode('host').withCommand(['sleep', '1000']).start();
    // A free port on the host loopback: the container's server binds it in the host's namespace.
    const port = await freeTcpPort();
    await c.exec(['sh', '-c', `node -e "require('http').createServer((q, r) => r.end('from-container')).listen(${port}, '127.0.0.1')" >/dev/null 2>&1 &`]);
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => '');
      if (body === '') await new Promise((r) => setTimeout(r, 50));
    }
    expect(body).toBe('from-container');
  });

  it('withNetworkAliases: containers on a network resolve each other by alias, and not unknown names', async () => {
    await using network = await new Network().start();
    await using foo = await new GenericContainer(IMAGE).withNetwork(network).withNetworkAliases('foo').start();
    await using bar = await new GenericContainer(IMAGE).withNetwork(network).withNetworkAliases('bar', 'baz').start();
    expect((await foo.exec(['getent', 'hosts', 'bar'])).exitCode).toBe(0);
    expect((await foo.exec(['getent', 'hosts', 'baz'])).exitCode).toBe(0);
    expect((await bar.exec(['getent', 'hosts', 'foo'])).exitCode).toBe(0);
    expect((await bar.exec(['getent', 'hosts', 'unknown'])).exitCode).not.toBe(0);
  });

  it('withExtraHosts: a name given with the address of another container resolves in this one', async () => {
    await using network = await new Network().start();
    await using foo = await new GenericContainer(IMAGE).withNetwork(network).start();
    const fooIp = foo.getIpAddress(foo.getNetworkNames()[0]!);
    await using c = await new GenericContainer(IMAGE).withExtraHosts([{ host: 'foo', ipAddress: fooIp }]).start();
    const r = await c.exec(['getent', 'hosts', 'foo']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(fooIp);
    expect((await c.exec(['getent', 'hosts', 'unknown'])).exitCode).not.toBe(0);
  });

  it('withNetworkMode(network.getName()) and withNetwork(network) both join the network', async () => {
    await using network = await new Network().start();
    await using byName = await new GenericContainer(IMAGE).withNetworkMode(network.getName()).start();
    await using byObject = await new GenericContainer(IMAGE).withNetwork(network).start();
    expect(byName.getNetworkNames()).toContain(network.getName());
    expect(byObject.getNetworkNames()).toContain(network.getName());
    expect(byName.getNetworkId(network.getName())).toBe(network.getId());
  });

  it('two containers on a user network ping each other by container name', async () => {
    await using network = await new Network().start();
    const suffix = new RandomUuid().nextUuid().slice(0, 8);
    await using one = await new GenericContainer(IMAGE).withName(`container1-${suffix}`).withNetwork(network).start();
    await using _two = await new GenericContainer(IMAGE).withName(`container2-${suffix}`).withNetwork(network).start();
    expect((await one.exec(['ping', '-c', '3', `container2-${suffix}`])).exitCode).toBe(0);
  });

  it('getIpAddress(network) is the container IPv4 address on that network', async () => {
    await using network = await new Network().start();
    await using c = await new GenericContainer(IMAGE).withNetwork(network).start();
    const ip = c.getIpAddress(network.getName());
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await c.exec(['sh', '-c', 'cat /proc/net/fib_trie'])).stdout).toContain(ip);
  });
});

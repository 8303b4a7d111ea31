/** testcontainers' `TestContainers.exposeHostPorts`: the host ports containers started afterwards may reach. */
import { checkPort } from '../api/container-options.js';

/** Host ports named by {@link TestContainers.exposeHostPorts}, for every container started after the call. */
export const exposedHostPorts = new Set<number>();
export const HOST_ALIAS = 'host.testcontainers.internal';

/**
 * A port for `withExposedPorts`: `6379`, `'53/udp'` or `{ container, host, protocol? }` for a fixed host port.
 * @example
 * import { GenericContainer, type PortSpec } from 'slipway/testcontainers';
 * const ports: PortSpec[] = [6379, '5353/udp', { container: 8080, host: 18080 }];
 * new GenericContainer('my-service:1').withExposedPorts(...ports);
 */
export type PortSpec = number | string | { container: number; host: number; protocol?: 'tcp' | 'udp' };

/**
 * testcontainers' `TestContainers` namespace.
 * @example
 * import { TestContainers } from 'slipway/testcontainers';
 * await TestContainers.exposeHostPorts(5432); // containers started from now on reach host.testcontainers.internal:5432
 */
export const TestContainers = Object.freeze({
  /**
   * testcontainers' `TestContainers.exposeHostPorts`: containers started afterwards (by {@link GenericContainer})
   * reach these TCP ports of the host's 127.0.0.1 as `host.testcontainers.internal:<port>` (also
   * `host.slipway.internal`), and no other port of the host's loopback. No sshd container: slipway's keeper relays.
   * Containers already running are not changed.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a port outside 1..65535.
   * @example
   * import { createServer } from 'node:http';
   * import type { AddressInfo } from 'node:net';
   * import { GenericContainer, TestContainers } from 'slipway/testcontainers';
   * const server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
   * const { port } = server.address() as AddressInfo;
   * await TestContainers.exposeHostPorts(port);
   * const c = await new GenericContainer('curlimages/curl').withCommand(['curl', `http://host.testcontainers.internal:${port}`]).start();
   */
  async exposeHostPorts(...ports: number[]): Promise<void> {
    const checked = ports.map((p) => checkPort('exposeHostPorts port', p));
    for (const p of checked) exposedHostPorts.add(p);
  },
});


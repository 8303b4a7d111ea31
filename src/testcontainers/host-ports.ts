/** testcontainers' `TestContainers.exposeHostPorts`: the host ports containers started afterwards may reach. */
import { checkPort } from '../api/container-options.js';

/** Host ports named by {@link TestContainers.exposeHostPorts}, for every container started after the call. */
export const exposedHostPorts = new Set<number>();
export const HOST_ALIAS = 'host.testcontainers.internal';

/** A port for `withExposedPorts`: `6379`, `'53/udp'` or `{ container, host, protocol? }` for a fixed host port. */
export type PortSpec = number | string | { container: number; host: number; protocol?: 'tcp' | 'udp' };

/** testcontainers' `TestContainers` namespace. */
export const TestContainers = Object.freeze({
  /**
   * testcontainers' `TestContainers.exposeHostPorts`: containers started afterwards (by {@link GenericContainer})
   * reach these TCP ports of the host's 127.0.0.1 as `host.testcontainers.internal:<port>` (also
   * `host.slipway.internal`), and no other port of the host's loopback. No sshd container: slipway's keeper relays.
   * Containers already running are not changed.
   * @throws SlipwayError `ERR_INVALID_ARGUMENT` for a port outside 1..65535.
   * @example
   * await TestContainers.exposeHostPorts(server.address().port);
   * const c = await new GenericContainer('curlimages/curl').withCommand(['curl', `http://host.testcontainers.internal:${port}`]).start();
   */
  async exposeHostPorts(...ports: number[]): Promise<void> {
    const checked = ports.map((p) => checkPort('exposeHostPorts port', p));
    for (const p of checked) exposedHostPorts.add(p);
  },
});


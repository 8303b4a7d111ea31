/** testcontainers' `InspectResult`, answered from what slipway knows of a container (there is no Docker to inspect). */
import type { StartedContainer } from '../api/started-container.js';

/**
 * testcontainers' `HealthCheckStatus`.
 * @example
 * import { GenericContainer, type HealthCheckStatus, type InspectResult } from 'slipway/testcontainers';
 * class Logged extends GenericContainer {
 *   protected override async containerStarting(inspect: InspectResult) {
 *     const status: HealthCheckStatus = inspect.healthCheckStatus; // 'none' without withHealthCheck
 *     console.log(`${inspect.name}: ${status}`);
 *   }
 * }
 */
export type HealthCheckStatus = 'none' | 'starting' | 'unhealthy' | 'healthy';

/**
 * testcontainers' `InspectResult`, as the lifecycle hooks of a {@link GenericContainer} subclass receive it.
 * `ports` maps a TCP container port (`8080`) or `'5005/udp'` to its binding; `healthCheckStatus` is `'none'` without a
 * `withHealthCheck` (an image's HEALTHCHECK is not reported), else `'starting'`, and `'healthy'` after a wait that was the
 * health check (the default when there is one).
 * @example
 * import { GenericContainer, type InspectResult, type StartedTestContainer } from 'slipway/testcontainers';
 * class WithHooks extends GenericContainer {
 *   protected override async containerStarted(container: StartedTestContainer, inspect: InspectResult) {
 *     console.log(inspect.name, inspect.ports['8080']?.[0]?.hostPort, inspect.labels);
 *   }
 * }
 * await using c = await new WithHooks('my-service:1').withExposedPorts(8080).start();
 */
export interface InspectResult {
  name: string;
  hostname: string;
  ports: Record<string, { hostIp: string; hostPort: number }[]>;
  healthCheckStatus: HealthCheckStatus;
  networkSettings: Record<string, { networkId: string; ipAddress: string }>;
  state: { status: string; running: boolean; startedAt: Date; finishedAt: Date | undefined };
  labels: Record<string, string>;
}

/** @internal */
export function inspectResultOf(c: StartedContainer, startedAt: Date, healthCheckStatus: HealthCheckStatus): InspectResult {
  const ports: InspectResult['ports'] = {};
  for (const [spec, hostPort] of c.ports) {
    const [port, protocol] = spec.split('/');
    ports[protocol === 'tcp' ? port! : spec] = [{ hostIp: c.host, hostPort }];
  }
  const networkSettings: InspectResult['networkSettings'] = {};
  for (const [name, n] of c.networks) networkSettings[name] = { networkId: n.id, ipAddress: n.ip };
  return {
    name: `/${c.name}`, hostname: c.hostname, ports, healthCheckStatus, networkSettings,
    state: { status: 'running', running: true, startedAt, finishedAt: undefined }, labels: { ...c.imageLabels, ...c.labels },
  };
}

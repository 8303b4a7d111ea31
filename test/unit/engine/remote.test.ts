import { describe, expect, it } from 'vitest';
import { engineClientHost, isRemoteEngine, type EngineEndpoint } from '../../../src/engine/endpoint.js';
import { publishedFor } from '../../../src/runtime/engine/engine-launch.js';
import { reaperWanted } from '../../../src/runtime/engine/session.js';

const unix: EngineEndpoint = { kind: 'unix', socketPath: '/var/run/docker.sock', source: 'Docker' };
const local: EngineEndpoint = { kind: 'tcp', host: '127.0.0.1', port: 2375, source: 'DOCKER_HOST' };
const remote: EngineEndpoint = { kind: 'tcp', host: 'build-box.lan', port: 2376, source: 'DOCKER_HOST' };

describe('remote engines', () => {
  it('the host of published ports follows testcontainers\' rules', () => {
    expect(engineClientHost(remote, {}, false, undefined)).toBe('build-box.lan');
    expect(engineClientHost(unix, {}, false, '172.17.0.1')).toBe('127.0.0.1');
    // Inside a container with the engine's socket mounted: the engine's host is the bridge gateway.
    expect(engineClientHost(unix, {}, true, '172.17.0.1')).toBe('172.17.0.1');
    expect(engineClientHost(remote, { TESTCONTAINERS_HOST_OVERRIDE: 'tunnel' }, false, undefined)).toBe('tunnel');
    expect(engineClientHost(remote, { SLIPWAY_HOST: 'mine', TESTCONTAINERS_HOST_OVERRIDE: 'tunnel' }, false, undefined)).toBe('mine');
  });

  it('default loopback publishing moves to every address of the engine\'s host only when reached from elsewhere', () => {
    const ports = [{ container: 80, protocol: 'tcp' as const, host: 0, hostIp: '127.0.0.1' }, { container: 81, protocol: 'tcp' as const, host: 8081, hostIp: '10.0.0.5' }];
    expect(publishedFor(ports, undefined)).toEqual(ports);
    expect(publishedFor(ports, '0.0.0.0').map((p) => p.hostIp)).toEqual(['0.0.0.0', '10.0.0.5']);
  });

  it('a reaper holds the session of a remote engine (auto), of any with on, of none with off', () => {
    expect([isRemoteEngine(remote), isRemoteEngine(local), isRemoteEngine(unix)]).toEqual([true, false, false]);
    expect([reaperWanted(remote, 'auto'), reaperWanted(local, 'auto'), reaperWanted(unix, 'auto')]).toEqual([true, false, false]);
    expect([reaperWanted(local, 'on'), reaperWanted(remote, 'off')]).toEqual([true, false]);
  });
});

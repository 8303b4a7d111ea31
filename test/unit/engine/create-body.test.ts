import { describe, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { clampUlimits, engineCreateBody } from '../../../src/runtime/engine/engine-launch.js';
import { exitInfoOf } from '../../../src/runtime/engine/engine-container.js';

describe('engine create body', () => {
  it('maps a builder\'s options to one create call', () => {
    const c = new Container('busybox').withEnv({ A: '1' }).withCommand(['sleep', '1']).withEntrypoint(['/bin/sh', '-c']).withUser('1000:1000')
      .withWorkdir('/w').withHostname('h').withLabels({ l: 'v' }).expose(80)
      .withBind('/src', '/dst', { readonly: true }).withTmpfs('/t', { size: '1m' }).withMemory('64m').withCpus(0.5).withPids(100)
      .withAddedCapabilities('NET_ADMIN').withDroppedCapabilities('MKNOD').withExtraHosts({ db: '10.0.0.2' }).withUlimits({ nofile: { soft: 10, hard: 20 } })
      .withShmSize('8m').withStopSignal('SIGINT').withSecurityOpt('no-new-privileges');
    const b = engineCreateBody(c.options, 'img', { 'org.slipway.session': 's' }, 's') as { HostConfig: Record<string, unknown> } & Record<string, unknown>;
    expect(b).toMatchObject({ Image: 'img', Cmd: ['sleep', '1'], Entrypoint: ['/bin/sh', '-c'], Env: ['A=1'], User: '1000:1000', WorkingDir: '/w', Hostname: 'h', StopSignal: 'SIGINT', Labels: { l: 'v', 'org.slipway.session': 's' } });
    expect(b.ExposedPorts).toHaveProperty(['80/tcp']);
    expect(b.HostConfig).toMatchObject({
      Init: true, NetworkMode: 'bridge', Binds: ['/src:/dst:ro'], Tmpfs: { '/t': 'rw,exec,nosuid,nodev,size=1048576,mode=1777' }, Memory: 64 * 1024 * 1024, NanoCpus: 500_000_000, PidsLimit: 100,
      CapAdd: ['NET_ADMIN'], CapDrop: ['MKNOD'], ExtraHosts: ['db:10.0.0.2'], Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }], ShmSize: 8 * 1024 * 1024, SecurityOpt: ['no-new-privileges'],
    });
    // Published ports listen on the address asked, 127.0.0.1 by default, never on every interface.
    expect((b.HostConfig.PortBindings as Record<string, unknown>)['80/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: '' }]);
  });

  it('every capability (withAddedCapabilities(\'ALL\'), privileged mode) goes as ALL: Docker 20.10 refuses PERFMON by name', () => {
    const all = engineCreateBody(new Container('busybox').withAddedCapabilities('ALL').withDroppedCapabilities('ALL').options, 'img', {}, 's') as { HostConfig: Record<string, unknown> };
    expect(all.HostConfig).toMatchObject({ CapAdd: ['ALL'], CapDrop: ['ALL'] });
    const some = engineCreateBody(new Container('busybox').withAddedCapabilities('SYS_ADMIN', 'PERFMON').options, 'img', {}, 's') as { HostConfig: Record<string, unknown> };
    expect(some.HostConfig).toMatchObject({ CapAdd: ['SYS_ADMIN', 'PERFMON'] });
  });

  it('unlimited (-1) ulimits become this process\'s hard limit, as the keeper clamps them', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 20000                files     \nMax core file size        0                    unlimited            bytes     \n';
    expect(clampUlimits({ nofile: { soft: -1, hard: -1 }, core: { soft: -1, hard: -1 }, nproc: { soft: 5, hard: 6 } }, limits))
      .toEqual({ nofile: { soft: 20000, hard: 20000 }, core: { soft: -1, hard: -1 }, nproc: { soft: 5, hard: 6 } });
  });

  it('an exit code above 128 from the engine\'s init is death by that signal, as the keeper reports it', () => {
    expect(exitInfoOf(143, false)).toEqual({ exitCode: null, signal: 'SIGTERM', oomKilled: false });
    expect(exitInfoOf(3, false)).toEqual({ exitCode: 3, signal: null, oomKilled: false });
    expect(exitInfoOf(137, true)).toEqual({ exitCode: null, signal: 'SIGKILL', oomKilled: true });
  });
});

import { describe, expect, it } from 'vitest';
import { Container } from '../../../src/api/container.js';
import { SlipwayError } from '../../../src/errors.js';

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return SlipwayError.is(e) ? e.code : 'not a SlipwayError'; }
  return undefined;
}

describe('Container builder', () => {
  it('is copy-on-write: a base builder can be reused', () => {
    const base = new Container('redis:7').withEnv({ A: '1' });
    const a = base.withEnv({ B: '2' }).expose(6379);
    const b = base.withMemory('128m');
    expect(base.options.env).toEqual({ A: '1' });
    expect(base.options.ports).toEqual([]);
    expect(a.options.env).toEqual({ A: '1', B: '2' });
    expect(a.options.ports).toEqual([{ container: 6379, protocol: 'tcp', host: 0, hostIp: '127.0.0.1' }]);
    expect(b.options.memory).toBe(128 * 1024 * 1024);
    expect(Object.isFrozen(a.options)).toBe(true);
  });
  it('host access: named ports add up; the whole loopback only by its unsafe name; false removes it', () => {
    const c = new Container('x').withHostAccess(5432).withHostAccess({ ports: [6379, 5432] });
    expect(c.options.hostAccess).toEqual({ ports: [5432, 6379], allLoopbackPorts: false, aliases: [] });
    expect(c.withHostAccess({ unsafeAllLoopbackPorts: true }).options.hostAccess).toEqual({ ports: [5432, 6379], allLoopbackPorts: true, aliases: [] });
    expect(c.withHostAccess(false).options.hostAccess).toBeUndefined();
    expect('hostAccess' in c.withHostAccess(false).options).toBe(false);
    expect(new Container('x').options.hostAccess).toBeUndefined();
    const loose = new Container('x') as unknown as { withHostAccess(...a: unknown[]): Container };
    for (const args of [[], [true], [0], [65536], [80.5], ['80'], [5432, '80'], [{}], [{ ports: [] }], [{ ports: 80 }], [{ allPorts: true }], [{ unsafeAllLoopbackPorts: 'yes' }], [null]]) {
      expect(code(() => loose.withHostAccess(...args)), JSON.stringify(args)).toBe('ERR_INVALID_ARGUMENT');
    }
    expect(() => loose.withHostAccess(70000)).toThrow(/host access port: 70000/);
  });
  it('parses every expose form', () => {
    const c = new Container('x').expose(80, 8080).expose('53/udp').expose({ container: 443, hostIp: '0.0.0.0' });
    expect(c.options.ports).toEqual([
      { container: 80, protocol: 'tcp', host: 8080, hostIp: '127.0.0.1' },
      { container: 53, protocol: 'udp', host: 0, hostIp: '127.0.0.1' },
      { container: 443, protocol: 'tcp', host: 0, hostIp: '0.0.0.0' },
    ]);
  });
  it('rejects bad values with ERR_INVALID_ARGUMENT naming the option', () => {
    const c = new Container('x');
    expect(code(() => c.expose(0))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.expose('80/sctp'))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withMemory('12x'))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withMemory(-1))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withCpus(0))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withEnv({ 'A=B': 'x' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withFile('relative/path', 'x'))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withFile('/etc/../../x', 'x'))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withCommand(['a', 'b\0']))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withUser('a b'))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withHostname('-bad-'))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => new Container(''))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withAddedCapabilities('NET_ADMN'))).toBe('ERR_INVALID_ARGUMENT');
    expect(c.withAddedCapabilities('ALL').options.capAdd).toContain('SYS_ADMIN'); // as docker run --cap-add ALL
    expect(code(() => c.withStartupTimeout(-1))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => c.withExtraHosts({ 'a.test': 'not-an-ip' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => c.withMemory('12x')).toThrow(/invalid memory: "12x".*size such as "512k"/);
  });
  it('takes Docker security options: seccomp=unconfined, no-new-privileges; names the allowed forms otherwise', () => {
    const c = new Container('x');
    expect(c.options.seccomp).toBe('default');
    expect(c.withSecurityOpt('seccomp=unconfined').options.seccomp).toBe('unconfined');
    expect(c.withSecurityOpt('no-new-privileges', 'no-new-privileges:true').options.seccomp).toBe('default');
    // no_new_privs is off unless asked for, as in Docker; `:false` turns it off again.
    expect(c.options.noNewPrivileges).toBeFalsy();
    expect(c.withSecurityOpt('no-new-privileges').options.noNewPrivileges).toBe(true);
    expect(c.withSecurityOpt('no-new-privileges:true').options.noNewPrivileges).toBe(true);
    expect(c.withSecurityOpt('no-new-privileges').withSecurityOpt('no-new-privileges:false').options.noNewPrivileges).toBe(false);
    expect(code(() => c.expose({ container: 53, protocol: 'sctp' as 'udp' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(c.expose({ container: 53, protocol: 'udp' }).options.ports[0]?.protocol).toBe('udp');
    for (const bad of ['seccomp=/etc/profile.json', 'apparmor=unconfined', 'label=disable', 'no-new-privileges:maybe', 'seccomp=unconfined ']) {
      expect(code(() => c.withSecurityOpt(bad))).toBe('ERR_INVALID_ARGUMENT');
    }
    expect(() => c.withSecurityOpt('apparmor=unconfined')).toThrow(expect.objectContaining({ hint: expect.stringContaining('"seccomp=unconfined" or "no-new-privileges"') }));
  });
  it('parses sizes and cpus', () => {
    const c = new Container('x').withMemory('1g').withShmSize('64k').withCpus('0.5').withTmpfs('/tmp', { size: '1.5m' });
    expect(c.options.memory).toBe(1024 ** 3);
    expect(c.options.shmSize).toBe(65536);
    expect(c.options.cpus).toBe(0.5);
    expect(c.options.mounts).toEqual([{ kind: 'tmpfs', target: '/tmp', size: 1572864, mode: undefined }]);
  });
});

describe('withPullTimeout', () => {
  it('takes positive milliseconds or Infinity, separate from the startup timeout', () => {
    const c = new Container('redis:7');
    expect(c.options.pullTimeout).toBeUndefined();
    expect(c.withPullTimeout(5000).options).toMatchObject({ pullTimeout: 5000 });
    // The startup timeout stays unset: start() takes the startupTimeout setting (default 60000).
    expect(c.withPullTimeout(5000).options.startupTimeout).toBeUndefined();
    expect(c.withPullTimeout(Infinity).options.pullTimeout).toBe(Infinity);
    for (const bad of [0, -1, Number.NaN]) expect(code(() => c.withPullTimeout(bad))).toBe('ERR_INVALID_ARGUMENT');
  });
});

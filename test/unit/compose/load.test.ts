// Loading Compose projects: merging files and extends as `docker compose` does, profiles, schema errors, and the
// mapping of services to container options (no containers are started here).
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ComposeEnvironment } from '../../../src/compose/compose-environment.js';
import { selectServices } from '../../../src/compose/project.js';
import { checkServiceKeys, parsePorts, serviceContainer, shellSplit, snapshotOf } from '../../../src/compose/service.js';
import { parseDuration } from '../../../src/compose/duration.js';
import { SlipwayError } from '../../../src/errors.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/compose');
const env = { REGISTRY: 'registry.test:5000' };
const tmp: string[] = [];
afterAll(() => { for (const d of tmp) rmSync(d, { recursive: true, force: true }); });

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-compose-'));
  tmp.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function thrown(f: () => unknown): SlipwayError {
  try {
    f();
  } catch (e) {
    if (SlipwayError.is(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('merging files and extends', () => {
  const dir = join(FIXTURES, 'overrides');
  const doc = new ComposeEnvironment(dir, ['compose.yml', 'compose.test.yml']).withEnvironment(env).config();
  const web = doc.services.web!;

  it('override maps merge key by key, later files win', () => {
    expect(web.environment).toEqual({ SHARED: 'yes', LEVEL: 'test', FROM_FILE: 'compose.yml' });
    expect(web.labels).toEqual({ a: '1', b: '2' });
  });

  it('command is replaced, ports appended', () => {
    expect(web.command).toEqual(['sh', '-c', 'httpd -p 81 -h /data && exec httpd -f -p 80 -h /assets']);
    expect(web.ports).toEqual(['127.0.0.1::80', '127.0.0.1::81']);
  });

  it('extends.file inherits from another file, its relative paths against that file; ours against the project', () => {
    expect(web.working_dir).toBe('/tmp');
    expect(web.volumes).toEqual([
      { type: 'bind', source: join(dir, 'shared/assets'), target: '/assets', read_only: false },
      { type: 'bind', source: join(dir, 'data'), target: '/data', read_only: true },
    ]);
  });

  it('extends within a file takes the extended service as its file defines it (before other files override it)', () => {
    const worker = doc.services.worker!;
    expect(worker.environment).toEqual({ SHARED: 'yes', LEVEL: 'base', FROM_FILE: 'compose.yml', ROLE: 'worker' });
    expect(worker.command).toEqual(['httpd', '-f', '-p', '80', '-h', '/assets']);
    expect(worker.image).toBe('registry.test:5000/busybox:latest');
  });

  it('an extends cycle and an unknown base are errors naming them', () => {
    const d = project({ 'compose.yml': 'services:\n  a: { image: x, extends: b }\n  b: { image: x, extends: a }\n  c: { image: x, extends: nope }\n' });
    expect(thrown(() => new ComposeEnvironment(d).config()).message).toMatch(/extends cycle: a → b → a|extends names service "nope"/);
  });
});

describe('validation against the Compose Specification schema', () => {
  it('a typo names the file, the path and the allowed keys', () => {
    const d = project({ 'compose.yml': 'services:\n  web:\n    image: x\n    enviroment: { A: "1" }\n' });
    const e = thrown(() => new ComposeEnvironment(d).config());
    expect(e.code).toBe('ERR_COMPOSE_INVALID');
    expect(e.message).toMatch(/compose\.yml: services\.web: unknown key "enviroment" \(allowed: .*environment/);
  });

  it('a wrong type names its path; broken YAML names the line', () => {
    const d = project({ 'a.yml': 'services:\n  web:\n    image: x\n    ports: 80\n', 'b.yml': 'services:\n  web: [\n' });
    expect(thrown(() => new ComposeEnvironment(d, 'a.yml').config()).message).toMatch(/a\.yml: services\.web\.ports: must be array/);
    expect(thrown(() => new ComposeEnvironment(d, 'b.yml').config()).message).toMatch(/b\.yml: not valid YAML: .*line/);
  });


  it('a missing required variable fails with its message', () => {
    const d = project({ 'compose.yml': 'services:\n  web:\n    image: ${IMG:?pass IMG}\n' });
    expect(thrown(() => new ComposeEnvironment(d).config()).message).toMatch(/services\.web\.image: required variable IMG is missing: pass IMG/);
    expect(new ComposeEnvironment(d).withEnvironment({ IMG: 'busybox' }).config().services.web!.image).toBe('busybox');
  });

  it('.env supplies variables, the process environment wins over it, withEnvironment over both', () => {
    const d = project({ 'compose.yml': 'services:\n  web:\n    image: "${A}-${B}-${C}"\n', '.env': 'A=file\nB=file\nC=file\n', 'other.env': 'A=other\n' });
    process.env.B = 'process';
    process.env.C = 'process';
    try {
      expect(new ComposeEnvironment(d).withEnvironment({ C: 'given' }).config().services.web!.image).toBe('file-process-given');
      expect(new ComposeEnvironment(d).withEnvironmentFile('other.env').config().services.web!.image).toBe('other-process-process');
    } finally {
      delete process.env.B;
      delete process.env.C;
    }
  });
});

describe('profiles and selection', () => {
  const doc = new ComposeEnvironment(join(FIXTURES, 'profiles')).withEnvironment(env).config();
  it('services without profiles always, others when a profile is active', () => {
    expect(selectServices(doc, []).sort()).toEqual(['always']);
    expect(selectServices(doc, ['debug']).sort()).toEqual(['always', 'debug']);
  });
  it('a named service starts whatever its profiles, with its dependencies', () => {
    expect(selectServices(doc, [], ['tools']).sort()).toEqual(['always', 'tools']);
    expect(thrown(() => selectServices(doc, [], ['nope'])).message).toMatch(/no such service: nope/);
  });
  it('a dependency disabled by profiles is an error naming both', () => {
    const d = project({ 'compose.yml': 'services:\n  a: { image: x, depends_on: [b] }\n  b: { image: x, profiles: [p] }\n' });
    const doc2 = new ComposeEnvironment(d).config();
    expect(thrown(() => selectServices(doc2, [])).message).toMatch(/service a depends on b, which is not enabled .*p/);
    expect(selectServices(doc2, ['p']).sort()).toEqual(['a', 'b']);
  });
});

describe('service options', () => {
  const doc = new ComposeEnvironment(join(FIXTURES, 'stack')).withEnvironment(env).config();
  const ctx = {
    project: 'p1', vars: { ...env }, networks: new Map(), volumes: new Map(), anonymousVolume: () => { throw new Error('none'); }, image: 'app:test',
    secrets: {}, configs: {}, materialize: () => { throw new Error('none'); },
  };

  it('maps healthcheck start_interval and start_period (Compose spec) to StartInterval and StartPeriod', () => {
    const svc = { image: 'x', network_mode: 'none', healthcheck: { test: 'true', interval: '2s', start_period: '30s', start_interval: '100ms' } };
    expect(serviceContainer(ctx, 'x', svc, 1).options.healthcheck).toMatchObject({ Test: ['CMD-SHELL', 'true'], Interval: 2000e6, StartPeriod: 30_000e6, StartInterval: 100e6 });
  });

  it('maps command, environment (over env_file, $$ kept literal), ports, tmpfs, labels, healthcheck, stop grace period', () => {
    // Networks are resolved by up(); here the service joins none.
    const app = serviceContainer(ctx, 'app', { ...doc.services.app!, network_mode: 'none' }, 1).options;
    expect(app.name).toBe('p1-app-1');
    expect(app.env).toEqual({ APP_MODE: 'test', GREETING: 'hello from ${GREETING_SOURCE:-compose}', CACHE_HOST: 'redis' });
    expect(app.ports).toEqual([{ container: 8080, protocol: 'tcp', host: 0, hostIp: '127.0.0.1' }]);
    expect(app.workdir).toBe('/srv');
    expect(app.mounts).toContainEqual({ kind: 'tmpfs', target: '/scratch', size: 8 * 1024 * 1024, mode: undefined, flags: ['noexec', 'nosuid', 'nodev'] });
    expect(app.labels).toMatchObject({ team: 'shop', 'com.docker.compose.project': 'p1', 'com.docker.compose.service': 'app' });
    expect(app.healthcheck).toEqual({ Test: ['CMD', 'sh', '-c', 'nc -w 2 db 5432 </dev/null && nc -w 2 redis 6379 </dev/null'], Interval: 250e6, Timeout: undefined, Retries: 100, StartPeriod: undefined });
    expect(app.stopTimeout).toBe(2000);
    const cache = serviceContainer(ctx, 'cache', { ...doc.services.cache!, network_mode: 'none' }, 1).options;
    expect(cache.command).toEqual(['redis-server', '--save', '', '--appendonly', 'no']);
    expect(cache.healthcheck?.Test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
  });

  it('limits, capabilities, ulimits, extra hosts, user', () => {
    const c = serviceContainer(ctx, 's', {
      image: 'x', network_mode: 'none', mem_limit: '64m', pids_limit: 50, deploy: { resources: { limits: { cpus: '0.5', memory: '32m' } } },
      cap_add: ['NET_ADMIN'], cap_drop: ['CHOWN'], ulimits: { nofile: { soft: 100, hard: 200 } }, extra_hosts: { 'api.test': '10.0.2.9' },
      user: '1000:1000', shm_size: '16m', stop_signal: 'SIGINT',
    }, 1).options;
    expect(c).toMatchObject({ memory: 32 * 1024 * 1024, cpus: 0.5, pids: 50, capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], user: '1000:1000', stopSignal: 'SIGINT', shmSize: 16 * 1024 * 1024 });
    expect(c.ulimits).toEqual({ nofile: { soft: 100, hard: 200 } });
    expect(c.extraHosts).toEqual({ 'api.test': '10.0.2.9' });
  });

  it('a bad value names the service and key', () => {
    expect(thrown(() => serviceContainer(ctx, 'web', { image: 'x', network_mode: 'none', cap_add: ['NOT_A_CAP'] }, 1)).message).toMatch(/service web: cap_add: invalid capability/);
  });

  it('keys this runtime cannot honour fail naming the key; harmless ones pass', () => {
    expect(() => checkServiceKeys('web', { image: 'x', restart: 'always', container_name: 'w', logging: { driver: 'json-file' } })).not.toThrow();
    for (const [key, value] of [['privileged', true], ['devices', ['/dev/fuse']], ['network_mode', 'service:db'], ['read_only', true]] as const) {
      const e = thrown(() => checkServiceKeys('web', { image: 'x', [key]: value }));
      expect(e.code).toBe('ERR_UNSUPPORTED');
      expect(e.message).toContain(`service web: "${key}" is not supported`);
    }
    expect(() => checkServiceKeys('web', { image: 'x', privileged: false })).not.toThrow();
  });
});

describe('small parsers', () => {
  it('ports: short and long syntax, ranges, host IPs, protocols', () => {
    const b = (container: number, host = 0, hostIp = '127.0.0.1', protocol = 'tcp') => ({ container, host, hostIp, protocol });
    expect(parsePorts(['80', 8081, '8080:80', '0.0.0.0:9000:90/udp', '127.0.0.1::5000', '[::1]:7000:70', '3000-3001:4000-4001'])).toEqual([
      b(80), b(8081), b(80, 8080), b(90, 9000, '0.0.0.0', 'udp'), b(5000, 0), b(70, 7000, '::1'), b(4000, 3000), b(4001, 3001),
    ]);
    expect(parsePorts([{ target: 80, published: '8080', host_ip: '127.0.0.2', protocol: 'udp' }, { target: 81 }])).toEqual([b(80, 8080, '127.0.0.2', 'udp'), b(81)]);
    expect(() => parsePorts(['1-3:4-5'])).toThrow(/ranges differ/);
    expect(() => parsePorts(['80/sctp'])).toThrow(/sctp/);
    expect(() => parsePorts(['nope:80:80'])).toThrow(/not an IP address/);
  });

  it('durations and command strings', () => {
    expect(parseDuration('1m30s', 'x')).toBe(90_000);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('10', 'x')).toBe(10_000);
    expect(() => parseDuration('10 parsecs', 'healthcheck.interval')).toThrow(/healthcheck\.interval: "10 parsecs" is not a duration/);
    expect(shellSplit(`sh -c 'echo "a b"' x\\ y "q\\"q"`)).toEqual(['sh', '-c', 'echo "a b"', 'x y', 'q"q']);
  });
});

describe('snapshots (withSnapshots, x-slipway)', () => {
  it('x-slipway.snapshot opts a service in or out; names given to withSnapshots() win over snapshot: false', () => {
    expect(snapshotOf('db', { image: 'x' }, false, false)).toBeUndefined();
    expect(snapshotOf('db', { image: 'x' }, true, false)).toEqual({});
    expect(snapshotOf('db', { image: 'x', 'x-slipway': { snapshot: true } }, false, false)).toEqual({});
    expect(snapshotOf('db', { image: 'x', 'x-slipway': { snapshot: { salt: 'v2' } } }, false, false)).toEqual({ salt: 'v2' });
    expect(snapshotOf('app', { image: 'x', 'x-slipway': { snapshot: false } }, true, false)).toBeUndefined();
    expect(snapshotOf('app', { image: 'x', 'x-slipway': { snapshot: false } }, true, true)).toEqual({});
  });

  it('a malformed x-slipway fails up() before anything starts, naming the service and the key', async () => {
    for (const [x, why] of [['{ snapshots: true }', /unknown key "snapshots"/], ['{ snapshot: yes please }', /snapshot: "yes please" is not true, false or \{ salt \}/], ['{ snapshot: { salt: 2 } }', /salt: 2 is not a string/]] as const) {
      const dir = project({ 'compose.yml': `services:\n  db:\n    image: registry.test:5000/postgres:15\n    x-slipway: ${x}\n` });
      const err = await new ComposeEnvironment(dir).up().then(() => undefined, (e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_COMPOSE_INVALID'), String(err)).toBe(true);
      expect((err as SlipwayError).message).toMatch(/service db: x-slipway/);
      expect((err as SlipwayError).message).toMatch(why);
    }
  });

  it('withSnapshots() refuses a name that is not a service of the up()', async () => {
    const dir = project({ 'compose.yml': 'services:\n  db:\n    image: registry.test:5000/postgres:15\n' });
    const err = await new ComposeEnvironment(dir).withSnapshots('dbb').up().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_COMPOSE_INVALID')).toBe(true);
    expect((err as SlipwayError).message).toMatch(/"dbb" is not a service/);
    expect(() => new ComposeEnvironment(dir).withSnapshots('')).toThrow(/snapshot service/);
  });
});

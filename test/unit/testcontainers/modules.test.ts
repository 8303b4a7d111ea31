import { describe, expect, it } from 'vitest';
import type { Container } from '../../../src/api/container.js';
import type { StartedContainer } from '../../../src/api/started-container.js';
import * as native from '../../../src/modules/index.js';
import {
  AbstractStartedContainer, GenericContainer, NginxContainer, PostgreSqlContainer, RedisContainer, StartedPostgreSqlContainer,
  StartedRedisContainer, StartedTestContainer, Wait,
} from '../../../src/testcontainers.js';

/** What start() would start: the builder's container plus the module's defaults (build() is protected). */
async function built(c: GenericContainer): Promise<Container['options']> {
  return (await (c as unknown as { build(): Promise<Container> }).build()).options;
}

/** A started handle with only host and ports. */
function fakeStarted(ports: Record<string, number>): StartedTestContainer {
  const inner = {
    host: '127.0.0.1',
    getMappedPort: (p: number | string) => ports[typeof p === 'number' ? `${p}/tcp` : p] ?? Number.NaN,
  } as unknown as StartedContainer;
  return new StartedTestContainer(inner);
}

describe('slipway/testcontainers modules are mutable GenericContainers', () => {
  it('statement-style configuration is kept: each with* changes the builder and returns it', async () => {
    const pg = new PostgreSqlContainer('example/pg:15');
    expect(pg).toBeInstanceOf(GenericContainer);
    expect(pg).not.toBeInstanceOf(native.PostgreSqlContainer);
    pg.withDatabase('shop');
    pg.withUsername('alice');
    expect(pg.withPassword('pw')).toBe(pg);
    pg.withEnvironment({ TZ: 'UTC', POSTGRES_DB: 'ignored' });
    const o = await built(pg);
    expect(o.env).toEqual({ TZ: 'UTC', POSTGRES_DB: 'shop', POSTGRES_USER: 'alice', POSTGRES_PASSWORD: 'pw' });
    expect(o.ports.map((p) => p.container)).toEqual([5432]);
    expect(o.startupTimeout).toBe(120_000);
    expect((o.waitStrategy as { describe(): string }).describe()).toContain('"pg_isready","-q","-h","127.0.0.1","-p","5432","-U","alice","-d","shop"');
  });

  it('the defaults are applied at start without changing the builder: a second start does not append twice', async () => {
    const redis = new RedisContainer('example/redis:7');
    redis.withCommand(['redis-server', '--loglevel', 'verbose']);
    redis.withPassword('pw');
    const first = await built(redis);
    expect((await built(redis)).command).toEqual(first.command);
    expect(first.command).toEqual(['redis-server', '--loglevel', 'verbose', '--requirepass', 'pw']);
    redis.withPersistence('/tmp/redis-data');
    expect(await built(redis)).toMatchObject({
      command: ['redis-server', '--loglevel', 'verbose', '--requirepass', 'pw', '--save 1 1 ', '--appendonly yes'],
      user: '0:0',
      mounts: [{ kind: 'bind', source: '/tmp/redis-data', target: '/data' }],
    });
    // testcontainers' own test passes mkdtempSync('redis-'): relative to the current directory.
    expect((await built(new RedisContainer('example/redis:7').withPersistence('redis-x'))).mounts).toEqual([expect.objectContaining({ source: `${process.cwd()}/redis-x` })]);
  });

  it('createOpts shows what start() created, in testcontainers\' words (its redis tests compare Cmd and Env)', async () => {
    const opts = (c: GenericContainer) => (c as unknown as { createOpts: { Cmd?: string[]; Env?: string[] } }).createOpts;
    const plain = new RedisContainer('example/redis:7').withCommand(['redis-server', '--loglevel', 'verbose']);
    await built(plain);
    expect(opts(plain).Cmd).toEqual(['redis-server', '--loglevel', 'verbose']);
    const persisted = new RedisContainer('example/redis:7').withCommand(['redis-server', '--loglevel', 'verbose']).withPersistence('/tmp/r');
    expect(opts(persisted).Cmd).toEqual(['redis-server', '--loglevel', 'verbose']); // before start: the builder's own
    await built(persisted);
    expect(opts(persisted).Cmd).toEqual(['redis-server', '--loglevel', 'verbose', '--save 1 1 ', '--appendonly yes']);
    const stack = new RedisContainer('redis/redis-stack-server:7.4.0-v4').withEnvironment({ REDIS_ARGS: '--loglevel verbose' });
    await built(stack);
    expect(opts(stack).Env).toEqual(['REDIS_ARGS=--loglevel verbose']);
    await built(stack.withPersistence('/tmp/r'));
    expect(opts(stack).Env).toEqual(['REDIS_ARGS=--loglevel verbose --save 1 1  --appendonly yes']);
  });

  it('a port the user published and a wait strategy the user chose are kept', async () => {
    const custom = Wait.forLogMessage('custom');
    const web = new NginxContainer('example/nginx:1').withExposedPorts({ container: 80, host: 18080 }).withWaitStrategy(custom);
    const o = await built(web);
    expect(o.ports).toEqual([expect.objectContaining({ container: 80, host: 18080 })]);
    expect(o.waitStrategy).toBe(custom);
  });

  it('a health check the user gave is waited for as well as the module\'s readiness', async () => {
    const pg = new PostgreSqlContainer('example/pg:15').withHealthCheck({ test: ['CMD-SHELL', 'exit 1'], interval: 100, retries: 0, timeout: 0 });
    const wait = ((await built(pg)).waitStrategy as { describe(): string }).describe();
    expect(wait).toMatch(/health/i);
    expect(wait).toContain('pg_isready');
  });

  it('withSSL checks its paths with testcontainers\' messages and passes the server its files', async () => {
    const pg = new PostgreSqlContainer('example/pg:15');
    expect(() => pg.withSSL('', 'server.key')).toThrow('SSL certificate file should not be empty.');
    expect(() => pg.withSSL('server.crt', '')).toThrow('SSL key file should not be empty.');
    expect(() => pg.withSSLCert('', 'server.crt', 'server.key')).toThrow('SSL CA certificate file should not be empty.');
    const o = await built(pg.withSSLCert('/h/ca.crt', '/h/server.crt', '/h/server.key'));
    expect(o.command).toEqual(['postgres', '-c', 'ssl=on', '-c', 'ssl_cert_file=/tmp/slipway/postgres/server.crt',
      '-c', 'ssl_key_file=/tmp/slipway/postgres/server.key', '-c', 'ssl_ca_file=/tmp/slipway/postgres/ca.crt']);
    expect(o.files.map((f) => [f.source, f.target, f.mode, f.owner])).toEqual([
      ['/h/server.crt', '/tmp/slipway/postgres/server.crt', 0o600, 'postgres'],
      ['/h/server.key', '/tmp/slipway/postgres/server.key', 0o600, 'postgres'],
      ['/h/ca.crt', '/tmp/slipway/postgres/ca.crt', 0o600, 'postgres'],
    ]);
  });

  it('started modules are StartedTestContainers with testcontainers\' accessors', async () => {
    const pg = new StartedPostgreSqlContainer(fakeStarted({ '5432/tcp': 40001 }), { database: 'my db', username: 'alice', password: 'p@ss' });
    expect(pg).toBeInstanceOf(StartedTestContainer);
    expect([pg.getPort(), pg.getDatabase(), pg.getUsername(), pg.getPassword()]).toEqual([40001, 'my db', 'alice', 'p@ss']);
    expect(pg.getConnectionUri()).toBe('postgres://alice:p%40ss@127.0.0.1:40001/my%20db');
    await expect(pg.withSnapshotName('my db').snapshot()).rejects.toThrow('Snapshot name cannot be the same as the database name');
    const redis = new StartedRedisContainer(fakeStarted({ '6379/tcp': 40002 }), {});
    expect([redis.getPassword(), redis.getConnectionUrl()]).toEqual(['', 'redis://127.0.0.1:40002']);
  });

  it('AbstractStartedContainer forwards every method of StartedTestContainer (the wrapped handle keeps the state)', async () => {
    const own = (proto: object) => [...Object.getOwnPropertyNames(proto), ...Object.getOwnPropertySymbols(proto).map(String)].filter((n) => n !== 'constructor');
    const missing = own(StartedTestContainer.prototype).filter((n) => !own(AbstractStartedContainer.prototype).includes(n));
    expect(missing, 'add a forwarding method to src/testcontainers/abstract-started-container.ts').toEqual([]);
  });
});

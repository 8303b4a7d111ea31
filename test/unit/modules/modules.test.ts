import { describe, expect, it } from 'vitest';
import { Wait } from '../../../src/api/wait/index.js';
import type { StartedContainer } from '../../../src/api/started-container.js';
import { NginxContainer, PostgreSqlContainer, RedisContainer, StartedPostgreSqlContainer, StartedRedisContainer, StartedNginxContainer } from '../../../src/modules/index.js';

/** A stand-in for a started container: only host and ports. */
function fakeStarted(ports: Record<string, number>): StartedContainer {
  return {
    host: '127.0.0.1',
    getHost: () => '127.0.0.1',
    getMappedPort: (p: number | string) => {
      const key = typeof p === 'number' ? `${p}/tcp` : p;
      const v = ports[key];
      if (v === undefined) throw new Error(`not published: ${key}`);
      return v;
    },
  } as unknown as StartedContainer;
}

describe('PostgreSqlContainer', () => {
  it('defaults to postgres:16 with test/test/test, publishes 5432 and waits for pg_isready over TCP and the port, 120 s', () => {
    const o = new PostgreSqlContainer().build().options;
    expect(o.image).toBe('postgres:16');
    expect(o.env).toEqual({ POSTGRES_DB: 'test', POSTGRES_USER: 'test', POSTGRES_PASSWORD: 'test' });
    expect(o.ports).toEqual([{ container: 5432, protocol: 'tcp', host: 0, hostIp: '127.0.0.1' }]);
    const wait = (o.waitStrategy as { describe(): string }).describe();
    // Not the log line ×2: an image or a reused data directory logs it once.
    expect(wait).not.toContain('ready to accept connections');
    expect(wait).toContain('["pg_isready","-q","-h","127.0.0.1","-p","5432","-U","test","-d","test"]');
    expect(wait).toContain('ports 5432 listening');
    expect(o.startupTimeout).toBe(120_000);
  });

  it('is copy-on-write: each with* returns a new builder and leaves the old one alone', () => {
    const base = new PostgreSqlContainer('example/pg:15');
    const app = base.withDatabase('app').withUsername('alice').withPassword('p@ss:word/1');
    const limited = app.withMemory('256m');
    expect(app).not.toBe(base);
    expect(app).toBeInstanceOf(PostgreSqlContainer);
    expect(base.build().options.env).toMatchObject({ POSTGRES_DB: 'test', POSTGRES_USER: 'test' });
    expect(app.build().options).toMatchObject({ image: 'example/pg:15', env: { POSTGRES_DB: 'app', POSTGRES_USER: 'alice', POSTGRES_PASSWORD: 'p@ss:word/1' } });
    expect(app.build().options.memory).toBeUndefined();
    expect(limited.build().options.memory).toBe(256 * 1024 * 1024);
  });

  it('keeps a port the user published and a wait strategy the user chose', () => {
    const custom = Wait.forLogMessage('custom');
    const o = new PostgreSqlContainer().with((c) => c.expose(5432, 15432)).waitFor(custom).build().options;
    expect(o.ports).toEqual([{ container: 5432, protocol: 'tcp', host: 15432, hostIp: '127.0.0.1' }]);
    expect(o.waitStrategy).toBe(custom);
  });

  it('module settings win over the same variables set with withEnv', () => {
    const o = new PostgreSqlContainer().withEnv({ POSTGRES_USER: 'ignored', TZ: 'UTC' }).withUsername('bob').build().options;
    expect(o.env).toMatchObject({ POSTGRES_USER: 'bob', TZ: 'UTC' });
  });

  it('rejects empty names and passwords, naming the option', () => {
    expect(() => new PostgreSqlContainer().withPassword('')).toThrow(/invalid password.*expected a non-empty string/);
    expect(() => new PostgreSqlContainer().withDatabase('a\0b')).toThrow(/invalid database/);
    expect(() => new PostgreSqlContainer().with(() => ({}) as never)).toThrow(/with\(\) callback result/);
  });

  it('builds a percent-encoded connection URI from the mapped port', () => {
    const pg = new StartedPostgreSqlContainer(fakeStarted({ '5432/tcp': 40001 }), { database: 'my db', username: 'alice', password: 'p@ss:word/1' });
    expect(pg.getConnectionUri()).toBe('postgres://alice:p%40ss%3Aword%2F1@127.0.0.1:40001/my%20db');
    expect([pg.getHost(), pg.getPort(), pg.getDatabase(), pg.getUsername(), pg.getPassword()]).toEqual(['127.0.0.1', 40001, 'my db', 'alice', 'p@ss:word/1']);
  });
});

describe('RedisContainer and NginxContainer', () => {
  it('redis: redis:7, 6379, redis-cli ping; withPassword appends --requirepass to the command and sets the URL', () => {
    const o = new RedisContainer().build().options;
    expect(o.image).toBe('redis:7');
    expect(o.ports.map((p) => p.container)).toEqual([6379]);
    expect(o.command).toBeUndefined();
    expect((o.waitStrategy as { describe(): string }).describe()).toContain('redis-cli -p 6379 ping | grep -qx PONG');
    expect(new RedisContainer().withPassword('s3cret').build().options.command).toEqual(['redis-server', '--requirepass', 's3cret']);
    // The readiness probe reads the password from a file: wait-failure messages quote its command.
    const locked = new RedisContainer().withPassword('s3cret').build().options;
    expect((locked.waitStrategy as { describe(): string }).describe()).not.toContain('s3cret');
    expect(locked.files.find((f) => f.target === '/run/slipway-redis-password')).toMatchObject({ mode: 0o644 });
    expect(new RedisContainer().with((c) => c.withCommand(['redis-server', '--loglevel', 'verbose'])).withPersistence('/tmp/d').build().options)
      .toMatchObject({ command: ['redis-server', '--loglevel', 'verbose', '--save 1 1 ', '--appendonly yes'], user: '0:0' });
    const stack = new RedisContainer('redis/redis-stack-server:7').with((c) => c.withEnv({ REDIS_ARGS: '--loglevel verbose' })).withPassword('pw').build().options;
    expect([stack.env.REDIS_ARGS, stack.entrypoint, stack.command]).toEqual(['--loglevel verbose --requirepass pw', ['/entrypoint.sh'], undefined]);
    expect(new StartedRedisContainer(fakeStarted({ '6379/tcp': 40002 }), {}).getConnectionUrl()).toBe('redis://127.0.0.1:40002');
    expect(new StartedRedisContainer(fakeStarted({ '6379/tcp': 40002 }), { password: 'a b' }).getConnectionUrl()).toBe('redis://:a%20b@127.0.0.1:40002');
  });

  it('nginx: nginx:1, 80, HTTP wait; base URL', () => {
    const o = new NginxContainer().build().options;
    expect(o.image).toBe('nginx:1');
    expect(o.ports.map((p) => p.container)).toEqual([80]);
    expect((o.waitStrategy as { describe(): string }).describe()).toMatch(/http/i);
    expect(new StartedNginxContainer(fakeStarted({ '80/tcp': 40003 })).getBaseUrl()).toBe('http://127.0.0.1:40003');
  });
});

import { describe, expect, it } from 'vitest';
import type { Container } from '../../../src/api/container.js';
import type { StartedContainer } from '../../../src/api/started-container.js';
import {
  EtcdContainer, MariaDbContainer, MemcachedContainer, MosquittoContainer, MySqlContainer, NatsContainer, RabbitMQContainer,
  StartedMariaDbContainer, StartedNatsContainer, StartedRabbitMQContainer,
} from '../../../src/modules/index.js';
import { mariaDbService } from '../../../src/modules/mariadb.js';
import * as tc from '../../../src/testcontainers.js';

function fakeStarted(ports: Record<number, number>): StartedContainer {
  return {
    host: '127.0.0.1',
    getHost: () => '127.0.0.1',
    getMappedPort: (p: number) => ports[p] ?? (() => { throw new Error(`not published: ${p}`); })(),
  } as unknown as StartedContainer;
}

const waitText = (c: Container) => (c.options.waitStrategy as { describe(): string }).describe();

describe('MariaDbContainer / MySqlContainer', () => {
  it('set MARIADB_* or MYSQL_* from the settings, publish 3306 and wait for the port (the init server does not listen)', () => {
    const m = new MariaDbContainer('m').withDatabase('shop').withUsername('alice').withUserPassword('pw').withRootPassword('r').build().options;
    expect(m.env).toEqual({ MARIADB_DATABASE: 'shop', MARIADB_USER: 'alice', MARIADB_PASSWORD: 'pw', MARIADB_ROOT_PASSWORD: 'r' });
    expect(m.ports.map((p) => p.container)).toEqual([3306]);
    expect(new MySqlContainer('m').build().options.env).toEqual({ MYSQL_DATABASE: 'test', MYSQL_USER: 'test', MYSQL_PASSWORD: 'test', MYSQL_ROOT_PASSWORD: 'test' });
    expect(waitText(new MariaDbContainer('m').build())).toContain('ports 3306 listening');
  });

  it('username root creates no second account (the entrypoint would fail on CREATE USER root) and root takes the user password', () => {
    const env = new MySqlContainer('m').withUsername('root').withUserPassword('pw').build().options.env;
    expect(env).toEqual({ MYSQL_DATABASE: 'test', MYSQL_ROOT_PASSWORD: 'pw' });
  });

  it('URIs percent-encode every piece, user or root', () => {
    const s = { ...mariaDbService.defaults, username: 'a@b', userPassword: 'p:/@', rootPassword: 'r#', database: 'd/b' };
    const started = new StartedMariaDbContainer(fakeStarted({ 3306: 4000 }), s, mariaDbService.flavour);
    expect(started.getConnectionUri()).toBe('mariadb://a%40b:p%3A%2F%40@127.0.0.1:4000/d%2Fb');
    expect(started.getConnectionUri(true)).toBe('mariadb://root:r%23@127.0.0.1:4000/d%2Fb');
  });
});

describe('NatsContainer', () => {
  it('makes the command nats-server flags, but keeps a command you set', () => {
    expect(new NatsContainer('n').withUsername('u').withPass('p').withJetStream().withArg('--name', 'x').build().options.command)
      .toEqual(['--user', 'u', '--pass', 'p', '--http_port', '8222', '-js', '--name', 'x']);
    expect(new NatsContainer('n').with((c) => c.withCommand(['-c', '/my.conf'])).build().options.command).toEqual(['-c', '/my.conf']);
    expect(() => new NatsContainer('n').withArg('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  it('getConnectionOptions() is what nats connect() takes', () => {
    const s = new StartedNatsContainer(fakeStarted({ 4222: 5000 }), { username: 'u', password: 'p', args: [] });
    expect(s.getConnectionOptions()).toEqual({ servers: '127.0.0.1:5000', user: 'u', pass: 'p' });
  });
});

describe('MosquittoContainer, MemcachedContainer, EtcdContainer', () => {
  it('Mosquitto writes an anonymous listener config unless you copied your own', () => {
    const files = new MosquittoContainer('m').build().options.files;
    expect(files.map((f) => [f.target, f.content?.toString()])).toEqual([['/mosquitto/config/mosquitto.conf', expect.stringContaining('listener 1883\nallow_anonymous true')]]);
    const own = new MosquittoContainer('m').with((c) => c.withFile('/mosquitto/config/mosquitto.conf', 'mine')).build().options.files;
    expect(own.map((f) => f.content?.toString())).toEqual(['mine']);
  });

  it('Memcached publishes 11211 and waits for it', () => {
    const c = new MemcachedContainer('m').build();
    expect(c.options.ports.map((p) => p.container)).toEqual([11211]);
    expect(waitText(c)).toContain('ports 11211 listening');
  });

  it('etcd runs one member named after nodeName, which resolves inside the container', () => {
    const o = new EtcdContainer('e').withNodeName('n1').build().options;
    expect(o.command).toEqual(expect.arrayContaining(['--name', 'n1', '--initial-cluster', 'n1=http://n1:2380', '--listen-client-urls', 'http://0.0.0.0:2379']));
    expect(o.extraHosts).toEqual({ n1: '127.0.0.1' });
  });
});

describe('RabbitMQContainer', () => {
  it('refuses a user or password with a line break (rabbitmq.conf has no quoting: it would add settings)', () => {
    expect(() => new RabbitMQContainer('r').withPassword('x\nloopback_users.guest = true')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => new tc.RabbitMQContainer('r').withEnvironment({ RABBITMQ_DEFAULT_USER: 'a\rb' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  it('getAmqpUrl() carries the encoded credentials', () => {
    const s = new StartedRabbitMQContainer(fakeStarted({ 5672: 6000, 15672: 6001 }), { username: 'u', password: 'p@ss' });
    expect(s.getAmqpUrl()).toBe('amqp://u:p%40ss@127.0.0.1:6000');
    expect(s.getManagementUrl()).toBe('http://127.0.0.1:6001');
  });
});

describe('slipway/testcontainers service modules', () => {
  it('are GenericContainers whose with* calls mutate and return the builder', () => {
    for (const b of [new tc.MariaDbContainer('m'), new tc.MySqlContainer('m'), new tc.MemcachedContainer('m'), new tc.NatsContainer('n'),
      new tc.MosquittoContainer('m'), new tc.EtcdContainer('e'), new tc.RabbitMQContainer('r')]) {
      expect(b).toBeInstanceOf(tc.GenericContainer);
    }
    const db = new tc.MariaDbContainer('m');
    expect(db.withDatabase('shop')).toBe(db);
  });
});

/**
 * The service modules reached with the clients users really use (`pg`, `ioredis`), through both entry points:
 * slipway's immutable builders and the testcontainers-style mutable modules configured statement by statement.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { PostgreSqlContainer, RedisContainer } from '../../../src/modules/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

async function query<T>(uri: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try { return (await client.query(sql, params)).rows as T[]; } finally { await client.end(); }
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('modules with real npm clients', () => {
  it('pg: a table round trip through the URI of slipway\'s PostgreSqlContainer', async () => {
    await using db = await new PostgreSqlContainer(fixtureRef('postgres')).withDatabase('shop').withUsername('alice').withPassword('p@ss word').start();
    const uri = db.getConnectionUri();
    await query(uri, 'create table items (id serial primary key, name text not null)');
    await query(uri, 'insert into items (name) values ($1), ($2)', ['apple', 'pear']);
    const rows = await query<{ name: string; db: string; who: string }>(uri, 'select name, current_database() as db, current_user as who from items order by id');
    expect(rows).toEqual([{ name: 'apple', db: 'shop', who: 'alice' }, { name: 'pear', db: 'shop', who: 'alice' }]);
  });

  it('pg: statement-style configuration of the testcontainers module is kept', async () => {
    const container = new tc.PostgreSqlContainer(fixtureRef('postgres'));
    container.withDatabase('orders');
    container.withUsername('bob');
    await using db = await container.start();
    const [row] = await query<{ db: string; who: string }>(db.getConnectionUri(), 'select current_database() as db, current_user as who');
    expect(row).toEqual({ db: 'orders', who: 'bob' });
  });

  it('ioredis: set/get, a password that is demanded, and the testcontainers module URL', async () => {
    await using plain = await new RedisContainer(fixtureRef('redis')).start();
    const a = new Redis(plain.getConnectionUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await a.connect();
      await a.set('k', 'v');
      expect(await a.get('k')).toBe('v');
      expect(await a.incrby('n', 41)).toBe(41);
    } finally { a.disconnect(); }

    const container = new tc.RedisContainer(fixtureRef('redis'));
    container.withPassword('hunter2');
    await using locked = await container.start();
    const denied = new Redis({ host: locked.getHost(), port: locked.getPort(), lazyConnect: true, maxRetriesPerRequest: 1, enableReadyCheck: false, retryStrategy: () => null });
    denied.on('error', () => {}); // the NOAUTH reply is asserted below; ioredis also emits it
    try {
      await denied.connect();
      await expect(denied.get('k')).rejects.toThrow(/NOAUTH/);
    } finally { denied.disconnect(); }
    const ok = new Redis(locked.getConnectionUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await ok.connect();
      expect(await ok.ping()).toBe('PONG');
    } finally { ok.disconnect(); }
  });
});

/**
 * The modules' default snapshots, with the clients users use: PostgreSQL starts from a snapshot by default (both
 * faces), Redis with `withInitialData` imports the data once into its snapshot (an `INCR` in the file proves it ran
 * once), and reset() drops later writes. Root and rootless.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { PostgreSqlContainer, RedisContainer } from '../../../src/modules/index.js';
import * as tc from '../../../src/testcontainers.js';
import { ImageStore, defaultStoreRoot } from '../../../src/image/store.js';
import { SnapshotStore } from '../../../src/image/snapshot-store.js';
import { removeTree } from '../../../src/runtime/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli } from '../cli/harness.js';

const RUN = `${process.pid}${Date.now().toString(36)}`;
const snapshots = new SnapshotStore(new ImageStore(defaultStoreRoot()));
const keys = new Set<string>();
const dirs: string[] = [];
afterAll(async () => {
  for (const r of await snapshots.list()) {
    if (!keys.has(r.key)) continue;
    await snapshots.remove(r);
    await removeTree(snapshots.layerDir(r)).catch(() => {});
    await rm(`${snapshots.layerDir(r)}.ok`, { force: true });
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function query<T>(uri: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try { return (await client.query(sql)).rows as T[]; } finally { await client.end(); }
}

async function withRedis<T>(url: string, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try { return await f(r); } finally { r.disconnect(); }
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('module snapshots', () => {
  it('PostgreSqlContainer starts from a snapshot by default; reset() drops later writes', async () => {
    const db = `db${RUN}`;
    const builder = new PostgreSqlContainer(fixtureRef('postgres')).withDatabase(db);
    {
      await using first = await builder.start();
      expect(first.container.snapshot?.created).toBe(true);
      keys.add(first.container.snapshot!.key);
    }
    await using second = await builder.start();
    expect(second.container.snapshot?.created).toBe(false);
    const uri = second.getConnectionUri();
    expect(await query(uri, 'select current_database() as db')).toEqual([{ db }]);
    await query(uri, 'create table t (x int)');
    const port = second.getPort();
    await second.reset();
    expect(second.getPort()).toBe(port);
    expect(await query(uri, "select count(*)::int as n from pg_tables where tablename = 't'")).toEqual([{ n: 0 }]);

    // Off when asked: withoutSnapshot().
    await using plain = await builder.withoutSnapshot().start();
    expect(plain.container.snapshot).toBeUndefined();
  }, 300_000);

  it('testcontainers\' PostgreSqlContainer: the same default, and reset()', async () => {
    const c = new tc.PostgreSqlContainer(fixtureRef('postgres'));
    c.withDatabase(`tc${RUN}`);
    await using db = await c.start();
    keys.add(db.slipway.snapshot!.key);
    expect(db.slipway.snapshot?.created).toBe(true);
    await query(db.getConnectionUri(), 'create table t (x int)');
    await db.reset();
    expect(await query(db.getConnectionUri(), "select count(*)::int as n from pg_tables where tablename = 't'")).toEqual([{ n: 0 }]);
  }, 300_000);

  it('RedisContainer with initial data: imported once into the snapshot, later starts and reset() have it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-redis-data-'));
    dirs.push(dir);
    const data = join(dir, 'data.redis');
    await writeFile(data, `SET greeting hello-${RUN}\nINCR imports\n`);
    const builder = new RedisContainer(fixtureRef('redis')).withInitialData(data);
    {
      await using first = await builder.start();
      expect(first.container.snapshot?.created).toBe(true);
      keys.add(first.container.snapshot!.key);
      expect(await withRedis(first.getConnectionUrl(), async (r) => [await r.get('greeting'), await r.get('imports')])).toEqual([`hello-${RUN}`, '1']);
    }
    await using second = await builder.start();
    expect(second.container.snapshot?.created).toBe(false);
    const url = second.getConnectionUrl();
    expect(await withRedis(url, async (r) => [await r.get('greeting'), await r.get('imports')])).toEqual([`hello-${RUN}`, '1']);
    await withRedis(url, (r) => r.set('later', 'x'));
    await second.reset();
    expect(await withRedis(url, async (r) => [await r.get('later'), await r.get('imports')])).toEqual([null, '1']);

    // An edited data file is another snapshot.
    await writeFile(data, `SET greeting changed-${RUN}\n`);
    await using edited = await builder.start();
    keys.add(edited.container.snapshot!.key);
    expect(edited.container.snapshot?.created).toBe(true);
    expect(await withRedis(edited.getConnectionUrl(), (r) => r.get('greeting'))).toBe(`changed-${RUN}`);

    // slipway snapshots ls lists both; rm removes one by its short key; prune keeps the other's layer.
    const short = (k: string) => k.slice(7, 19);
    const [a, b] = [second.container.snapshot!, edited.container.snapshot!];
    const ls = await cli(['snapshots', 'ls']).done;
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(short(a.key));
    expect(ls.stdout).toContain(short(b.key));
    await second.remove();
    const removed = await cli(['snapshots', 'rm', short(a.key)]).done;
    expect(removed.stdout).toContain('removed 1 snapshots');
    expect((await cli(['snapshots', 'ls', '--json']).done).stdout).not.toContain(a.key);
    const dry = await cli(['prune', '--dry-run']).done;
    expect(dry.stdout).toContain(a.layerDir.split('/').slice(-2).join('/'));
    expect(dry.stdout).not.toContain(b.layerDir.split('/').slice(-2).join('/'));
  }, 300_000);
});

/**
 * Snapshots and reset() (`withSnapshot`) with the real postgres fixture and `pg`: the first start makes the snapshot,
 * later starts run from it (POSTGRES_DB's database and data written before the commit are there), reset() drops later
 * writes on the same port, a changed env makes another snapshot, two processes racing on a first start build one,
 * a half-written snapshot is built again, and a service that does not shut down cleanly is not snapshotted.
 * Root and rootless.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Container, SlipwayError, Wait } from '../../../src/index.js';
import { ImageStore, defaultStoreRoot } from '../../../src/image/store.js';
import { SnapshotStore } from '../../../src/image/snapshot-store.js';
import { removeTree } from '../../../src/runtime/index.js';
import { fixtureRef, helperBuilt, registry, skipUnless, until, userNamespacesAllowed } from '../harness/index.js';

const RUN = `${process.pid}-${Date.now()}`;
const store = new ImageStore(defaultStoreRoot());
const snapshots = new SnapshotStore(store);
const keys = new Set<string>();

afterAll(async () => {
  // Our snapshots and their layers (the layers hold the containers' ids: removed through the keeper).
  for (const r of await snapshots.list()) {
    if (!keys.has(r.key)) continue;
    await snapshots.remove(r);
    await removeTree(snapshots.layerDir(r)).catch(() => {});
    await rm(`${snapshots.layerDir(r)}.ok`, { force: true });
  }
});

const READY = /ready to accept connections/;
function postgres(salt: string, env: Record<string, string> = {}, prepare?: (c: import('../../../src/index.js').StartedContainer) => Promise<void>): Container {
  return new Container(fixtureRef('postgres'))
    .withEnv({ POSTGRES_PASSWORD: 'pw', POSTGRES_DB: 'shop', ...env }).expose(5432).withStartupTimeout(120_000)
    .waitFor(Wait.forLogMessage(READY, 2))
    .withSnapshot({ salt: `${RUN}-${salt}`, prepare, waitStrategy: Wait.forLogMessage(READY) });
}

async function query<T>(port: number, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: `postgres://postgres:pw@127.0.0.1:${port}/shop` });
  await client.connect();
  try { return (await client.query(sql)).rows as T[]; } finally { await client.end(); }
}

const seed = async (c: import('../../../src/index.js').StartedContainer) => {
  await query(c.getMappedPort(5432), "create table seeded (v text); insert into seeded values ('before-commit')");
};

/** Runs snapshot-child.mts in its own Node process; resolves with its JSON line. */
function child(salt: string): { proc: ReturnType<typeof spawn>; result: Promise<{ created: boolean; key: string; db: string }> } {
  const viteNode = join(createRequire(import.meta.url).resolve('vite-node/package.json'), '..', 'vite-node.mjs');
  const proc = spawn(process.execPath, [viteNode, join(import.meta.dirname, 'snapshot-child.mts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SNAP_REF: fixtureRef('postgres'), SNAP_SALT: `${RUN}-${salt}`, SLIPWAY_TEST_REGISTRY: registry() },
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const result = new Promise<{ created: boolean; key: string; db: string }>((resolve, reject) => {
    proc.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`snapshot child exited with ${signal ?? code}: ${out}`));
    });
  });
  return { proc, result };
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('withSnapshot and reset()', () => {
  it('the first start makes the snapshot; the next starts from it with POSTGRES_DB and the data written before the commit', async () => {
    let portBefore = 0;
    const builder = postgres('basic', {}, async (c) => { portBefore = c.getMappedPort(5432); await seed(c); });
    {
      await using first = await builder.start();
      expect(first.snapshot?.created).toBe(true);
      keys.add(first.snapshot!.key);
      expect(await snapshots.find(await firstMapping(), first.snapshot!.key)).toBeDefined();
      // Restarted from the snapshot on the same host port, seeded data there.
      expect(first.getMappedPort(5432)).toBe(portBefore);
      expect(await query(portBefore, 'select v from seeded')).toEqual([{ v: 'before-commit' }]);
    }
    await using second = await builder.start();
    expect(second.snapshot).toMatchObject({ created: false });
    const port = second.getMappedPort(5432);
    expect(await query(port, 'select current_database() as db')).toEqual([{ db: 'shop' }]);
    expect(await query(port, 'select v from seeded')).toEqual([{ v: 'before-commit' }]);
    // The image's init did not run again: one "ready" line (the real server), no initdb output.
    const logs = await second.logs().text();
    expect(logs).not.toMatch(/initdb|CREATE DATABASE|PostgreSQL init process complete/);
  });

  it('reset() drops what was written since, on the same host port', async () => {
    await using c = await postgres('reset', {}, seed).start();
    keys.add(c.snapshot!.key);
    const port = c.getMappedPort(5432);
    await query(port, "insert into seeded values ('after'); create table later (x int)");
    expect(await query(port, 'select count(*)::int as n from seeded')).toEqual([{ n: 2 }]);
    await c.reset();
    expect(c.getMappedPort(5432)).toBe(port);
    expect(await query(port, 'select v from seeded')).toEqual([{ v: 'before-commit' }]);
    expect(await query(port, "select count(*)::int as n from pg_tables where tablename = 'later'")).toEqual([{ n: 0 }]);
    // And again: a reset after a reset.
    await query(port, "insert into seeded values ('again')");
    await c.reset();
    expect(await query(port, 'select v from seeded')).toEqual([{ v: 'before-commit' }]);
  });

  it('a changed env makes another snapshot', async () => {
    await using a = await postgres('env', { TZ: 'UTC' }).start();
    keys.add(a.snapshot!.key);
    await a.remove();
    await using b = await postgres('env', { TZ: 'Europe/Paris' }).start();
    keys.add(b.snapshot!.key);
    expect(a.snapshot?.created).toBe(true);
    expect(b.snapshot?.created).toBe(true);
    expect(b.snapshot?.key).not.toBe(a.snapshot?.key);
    expect(await query(b.getMappedPort(5432), 'show timezone')).toEqual([{ TimeZone: 'Europe/Paris' }]);
  }, 300_000);

  it('two processes racing on the first start both succeed, and one snapshot is built', async () => {
    const [x, y] = [child('race'), child('race')];
    const [rx, ry] = await Promise.all([x.result, y.result]);
    keys.add(rx.key);
    expect(rx.key).toBe(ry.key);
    expect([rx.created, ry.created].sort()).toEqual([false, true]);
    expect([rx.db, ry.db]).toEqual(['shop', 'shop']);
    expect((await snapshots.list()).filter((r) => r.key === rx.key)).toHaveLength(1);
  }, 300_000);

  it('a snapshot whose build was killed, or that was left half-written, is built again', async () => {
    // A process killed during its first start (the writable layer that would become the snapshot is in the store's
    // tmp/): nothing usable is left; the next start sweeps the leftover and builds the snapshot.
    const tmp = join(store.root, 'tmp');
    const k = child('killed');
    k.result.catch(() => {});
    const leftovers = () => readdirSync(tmp).filter((n) => n.startsWith(`snapshot_upper-${k.proc.pid}-`));
    await until(() => leftovers().length > 0, 120_000);
    // Killed early in Postgres' initdb (over a second on this machine): one second after the upper dir appeared was
    // late enough, on an idle machine, for the child to finish the snapshot first (a CI run saw created: false).
    await new Promise((r) => setTimeout(r, 200));
    k.proc.kill('SIGKILL');
    await expect(k.result).rejects.toThrow(/SIGKILL/);
    const left = leftovers();
    expect(left).toHaveLength(1);
    await using again = await postgres('killed').start();
    keys.add(again.snapshot!.key);
    expect(again.snapshot?.created).toBe(true);
    expect(readdirSync(tmp)).not.toContain(left[0]);
    expect(await query(again.getMappedPort(5432), 'select current_database() as db')).toEqual([{ db: 'shop' }]);
    await again.remove();

    // Killed between the layer's marker and the record: the layer is not used without its record.
    const mapping = await firstMapping();
    await snapshots.remove({ mappingKey: mapping, key: again.snapshot!.key });
    await using second = await postgres('killed').start();
    expect(second.snapshot).toMatchObject({ key: again.snapshot!.key, created: true });
    expect(second.snapshot?.layerDir).not.toBe(again.snapshot?.layerDir);
    await second.remove();

    // A record whose layer lost its marker (killed between the rename and the marker): not used, made again.
    await rm(`${second.snapshot!.layerDir}.ok`);
    await using rebuilt = await postgres('killed').start();
    expect(rebuilt.snapshot).toMatchObject({ key: again.snapshot!.key, created: true });
    expect(await query(rebuilt.getMappedPort(5432), 'select current_database() as db')).toEqual([{ db: 'shop' }]);
  }, 400_000);

  it('a service that does not exit cleanly on its stop signal is not snapshotted', async () => {
    // busybox sleep dies of SIGTERM (a signal exit): ERR_SNAPSHOT, the container removed, no record.
    const busyboxRecords = async () => (await snapshots.list()).filter((r) => r.image === fixtureRef('busybox')).length;
    const before = await busyboxRecords();
    const c = new Container(fixtureRef('busybox')).withEntrypoint(['sleep']).withCommand(['1000']).waitFor(Wait.none()).withSnapshot({ salt: `${RUN}-unclean` });
    const err = await c.start().catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_SNAPSHOT')).toBe(true);
    expect((err as SlipwayError).message).toMatch(/did not shut down cleanly .*killed by SIGTERM/);
    expect(await busyboxRecords()).toBe(before);
  });
});

async function firstMapping(): Promise<string> {
  const { layerOwnership } = await import('../../../src/runtime/index.js');
  return (await layerOwnership()).mappingKey;
}

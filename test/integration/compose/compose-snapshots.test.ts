/**
 * Compose services started from snapshots (`ComposeEnvironment.withSnapshots()`, `x-slipway: { snapshot }`), root and
 * rootless: the first up() initialises postgres once and stores it, a later up() of another project starts from it
 * (the init script's row is there, a row written after the snapshot is not), a service opts in or out in the file,
 * and services still resolve each other by name on the project network after the reboot from the snapshot.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ComposeEnvironment, type StartedComposeEnvironment } from '../../../src/index.js';
import { ImageStore, defaultStoreRoot } from '../../../src/image/store.js';
import { SnapshotStore } from '../../../src/image/snapshot-store.js';
import { removeTree } from '../../../src/runtime/index.js';
import { helperBuilt, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/compose');
const RUN = `${process.pid}-${Date.now()}`;
const run = helperBuilt() && userNamespacesAllowed();
const started: StartedComposeEnvironment[] = [];
const keys = new Set<string>();

afterAll(async () => {
  for (const e of started) await e.down({ removeVolumes: true }).catch(() => undefined);
  // This run's snapshots and their layers (the layers hold the containers' ids: removed through the keeper).
  const snapshots = new SnapshotStore(new ImageStore(defaultStoreRoot()));
  for (const r of await snapshots.list()) {
    if (!keys.has(r.key)) continue;
    await snapshots.remove(r);
    await removeTree(snapshots.layerDir(r)).catch(() => {});
    await rm(`${snapshots.layerDir(r)}.ok`, { force: true });
  }
});

function compose(project: string): ComposeEnvironment {
  return new ComposeEnvironment(join(FIXTURES, 'snapshots')).withEnvironment({ REGISTRY: registry(), RUN })
    .withProjectName(`snap-${project}-${process.pid}`).withStartupTimeout(120_000);
}

async function sh(env: StartedComposeEnvironment, container: string, script: string): Promise<string> {
  const r = await env.getContainer(container).exec(['sh', '-c', script]);
  expect(r.exitCode, `${script}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

const psql = (sql: string) => `PGPASSWORD=secret psql -h 127.0.0.1 -U shop -d shop -tAc "${sql}"`;

skipUnless(run, 'needs the slipway helper and user namespaces')('compose snapshots', () => {
  it('up() from snapshots: made once, then started from in another project', async () => {
    const first = await compose('a').withSnapshots('db').up();
    started.push(first);
    const db1 = first.getContainer('db-1').snapshot;
    const cache1 = first.getContainer('cache-1').snapshot;
    expect(db1?.created).toBe(true);
    expect(cache1?.created).toBe(true); // x-slipway: { snapshot: { salt } } without being named
    expect(first.getContainer('app-1').snapshot).toBeUndefined(); // not named, and x-slipway: { snapshot: false }
    for (const k of [db1!.key, cache1!.key]) keys.add(k);
    expect(await sh(first, 'db-1', psql('select name from items'))).toBe('from the init script');
    // After the reboot from the snapshot, names still resolve on the project network.
    expect(await sh(first, 'app-1', 'nc -w 2 db 5432 </dev/null && nc -w 2 cache 6379 </dev/null && echo ok')).toBe('ok');
    await sh(first, 'db-1', psql("insert into items values (2, 'after the snapshot')"));
    await first.down({ removeVolumes: true });

    // Every service (app opts out in the file): db and cache start from the snapshots the first up() made.
    const second = await compose('b').withSnapshots().up();
    started.push(second);
    expect(second.getContainer('db-1').snapshot).toMatchObject({ created: false, key: db1!.key });
    expect(second.getContainer('cache-1').snapshot).toMatchObject({ created: false, key: cache1!.key });
    expect(second.getContainer('app-1').snapshot).toBeUndefined();
    expect(await sh(second, 'db-1', psql('select name from items order by id'))).toBe('from the init script');
    expect(await sh(second, 'app-1', 'nc -w 2 db 5432 </dev/null && nc -w 2 cache 6379 </dev/null && echo ok')).toBe('ok');
    await second.down({ removeVolumes: true });

    // Without withSnapshots(), db starts cold (no snapshot) while cache keeps its x-slipway opt-in.
    const third = await compose('c').up();
    started.push(third);
    expect(third.getContainer('db-1').snapshot).toBeUndefined();
    expect(third.getContainer('cache-1').snapshot).toMatchObject({ created: false, key: cache1!.key });
  }, 300_000);
});

/**
 * A store damaged from outside must never be trusted into a broken container: a layer half-deleted
 * by `rm -rf` is unpacked again, and what a killed rootless pull left in tmp/ (files already given to
 * subordinate ids, which `rm -rf` cannot delete) is swept through the keeper.
 */
import { lstat, mkdir, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { ImageStore } from '../../../src/image/store.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const storeRoot = path.join(await mkdtemp(path.join(os.tmpdir(), 'slipway-it-recovery-')), 'store');
process.env.SLIPWAY_CACHE_DIR = storeRoot;
afterAll(async () => {
  const keeper = await Keeper.get();
  await keeper.rmtree(path.dirname(storeRoot)).catch(() => {});
});

/** Every unpacked layer dir of the store. */
async function layerDirs(): Promise<string[]> {
  const out: string[] = [];
  for (const m of await readdir(path.join(storeRoot, 'layers'))) {
    for (const h of await readdir(path.join(storeRoot, 'layers', m))) if (!h.endsWith('.ok')) out.push(path.join(storeRoot, 'layers', m, h));
  }
  return out;
}

/** What `rm -rf` does to a tree it may only partly delete: every non-directory goes, directories stay. */
async function deleteFiles(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await deleteFiles(p).catch(() => {});
    else await unlink(p).catch(() => {});
  }
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('store recovery', () => {
  it('unpacks again a layer that rm -rf half-deleted (marker gone), instead of running with its files missing', async () => {
    expect((await new Container(fixtureRef('busybox')).withCommand(['echo', 'first']).run()).stdout).toBe('first\n');
    const [dir] = await layerDirs();
    await deleteFiles(dir!);
    await unlink(`${dir}.ok`);
    const r = await new Container(fixtureRef('busybox')).withCommand(['echo', 'second']).run();
    expect(r).toMatchObject({ exitCode: 0, stdout: 'second\n' });
  });

  it('does not trust a marker whose layer lost files since (an interrupted rm -rf)', async () => {
    const [dir] = await layerDirs();
    await deleteFiles(dir!);
    const r = await new Container(fixtureRef('busybox')).withCommand(['echo', 'third']).run();
    expect(r).toMatchObject({ exitCode: 0, stdout: 'third\n' });
  });

  it('sweeps subordinate-owned leftovers of a dead pull from tmp/ through the keeper', async () => {
    const keeper = await Keeper.get();
    // A pull killed during the keeper's chown: the tree belongs to a container uid (a subordinate id
    // rootless), its directory not writable for us, so plain rm -rf fails inside it.
    const dead = 4_194_000;
    const left = path.join(storeRoot, 'tmp', `layer_deadbeef-${dead}-0123456789ab`);
    await mkdir(path.join(left, 'etc'), { recursive: true });
    await writeFile(path.join(left, 'etc', 'f'), 'x');
    const list = path.join(storeRoot, 'tmp', `owners-${process.pid}`);
    await writeFile(list, `${['etc/f', '1000', '1000', '644', 'etc', '1000', '1000', '755'].join('\0')}\0`);
    await keeper.chownList(left, list);
    await unlink(list);
    if (process.getuid!() !== 0) await expect(rm(left, { recursive: true, force: true })).rejects.toThrow(/EACCES|EPERM/);
    await new ImageStore(storeRoot, { removeTree: (p) => keeper.rmtree(p) }).init();
    await expect(lstat(left)).rejects.toThrow(/ENOENT/);
  });
});

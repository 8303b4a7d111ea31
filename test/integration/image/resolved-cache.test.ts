/**
 * A process keeps the images it resolved from the store (one stat per start instead of the reference and marker
 * reads): what another process changes in the store, or what a hand deletes, must still be seen at the next start.
 */
import { mkdtemp, readdir, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli } from '../cli/harness.js';

const storeRoot = path.join(await mkdtemp(path.join(os.tmpdir(), 'slipway-it-resolved-')), 'store');
process.env.SLIPWAY_CACHE_DIR = storeRoot;
afterAll(async () => {
  const keeper = await Keeper.get();
  await keeper.rmtree(path.dirname(storeRoot)).catch(() => {});
});

async function deleteFiles(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await deleteFiles(p).catch(() => {});
    else await unlink(p).catch(() => {});
  }
}

const echo = (word: string, policy: 'missing' | 'never' = 'missing') =>
  new Container(fixtureRef('busybox')).withPullPolicy(policy).withNetworkMode('none').withCommand(['echo', word]).run();

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('images resolved from the store, kept per process', () => {
  it('an image another process pruned is not started from what this process kept', async () => {
    for (const w of ['pulled', 'kept', 'from-kept']) expect((await echo(w)).stdout).toBe(`${w}\n`);
    const pruned = await cli(['prune', '--all'], { SLIPWAY_CACHE_DIR: storeRoot }).done;
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/removed 1 references/);
    const e = await echo('stale', 'never').then(() => undefined, (err: unknown) => err);
    expect(SlipwayError.is(e, 'ERR_IMAGE_NOT_PRESENT'), String(e)).toBe(true);
    // Policy missing pulls it again and runs from the new layers.
    expect((await echo('again')).stdout).toBe('again\n');
    expect((await echo('again-kept')).stdout).toBe('again-kept\n');
  });

  it('a layer whose files were deleted by hand since is unpacked again, not mounted half-empty', async () => {
    expect((await echo('before')).stdout).toBe('before\n');
    // What an interrupted `rm -rf` leaves: every file gone, directories and the layer's marker still there.
    for (const m of await readdir(path.join(storeRoot, 'layers'))) {
      for (const h of await readdir(path.join(storeRoot, 'layers', m))) if (!h.endsWith('.ok')) await deleteFiles(path.join(storeRoot, 'layers', m, h));
    }
    expect(await echo('after')).toMatchObject({ exitCode: 0, stdout: 'after\n' });
  });
});

/**
 * A `docker-archive:` file names itself (RepoTags), and since d4a7b2e the pull records it in the store under those
 * names. A hostile archive (a test's downloaded artifact) that names itself as an image the store already holds from
 * a registry must not replace it: the store outlives the process, so every later start of that name, in every later
 * test run, would run the archive's image instead.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pull } from '../../../src/image/pull.js';
import { fixtureArchive, fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const work = mkdtempSync(join(tmpdir(), 'slipway-archive-names-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** busybox's docker-save archive, renamed to `names`. */
function archiveNamed(file: string, names: string[]): string {
  const dir = join(work, `${file}.d`);
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('tar', ['-xf', fixtureArchive('busybox-docker'), '-C', dir]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { RepoTags?: string[] }[];
  rmSync(join(dir, 'manifest.json'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ ...manifest[0], RepoTags: names }]));
  const out = join(work, file);
  execFileSync('tar', ['-cf', out, '-C', dir, '.']);
  return out;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'layers are unpacked with the helper\'s id mapping rootless')('an archive\'s names', () => {
  nativeOnly('slipway\'s own store (the engine loads archives without their names)')('never replace an image pulled from a registry; a name another file gave is taken over', async () => {
    const storeDir = join(work, 'store');
    const victim = fixtureRef('busybox');
    const pulled = await pull(victim, { storeDir });
    expect(pulled.pulledFrom).toBe(victim);

    const hostile = archiveNamed('hostile.tar', [victim, 'localhost/s11-app:1']);
    const loaded = await pull(`docker-archive:${hostile}`, { storeDir });
    // Before: loadedAs held the registry's name, and the store's record of it said docker-archive:…/hostile.tar.
    expect(loaded.loadedAs).toEqual(['localhost/s11-app:1']);
    const again = await pull(victim, { storeDir, policy: 'never' });
    expect(again.pulledFrom).toBe(victim);
    expect(again.digest).toBe(pulled.digest);

    // Only one name, and it is held: the image is still loaded, under the config digest's name.
    const only = archiveNamed('only.tar', [victim]);
    const unnamed = await pull(`docker-archive:${only}`, { storeDir });
    expect(unnamed.loadedAs).toEqual([expect.stringMatching(/^localhost\/slipway-load:[0-9a-f]{12}$/)]);
    expect((await pull(victim, { storeDir, policy: 'never' })).pulledFrom).toBe(victim);

    // A name that a file gave: the next file takes it, as docker load does.
    const next = archiveNamed('next.tar', ['localhost/s11-app:1']);
    expect((await pull(`docker-archive:${next}`, { storeDir })).loadedAs).toEqual(['localhost/s11-app:1']);
    expect((await pull('localhost/s11-app:1', { storeDir, policy: 'never' })).pulledFrom).toBe(`docker-archive:${next}`);
  });
});

/**
 * `slipway pull docker-archive:…` / `oci-layout:…` as a `docker load` user expects it: the image is named in the
 * store (the file's own name, else one from its config digest), listed by `images`, kept by `prune` and found by
 * `--pull never` until `rmi` removes the name; `save` and `push` take it as they take a pulled image.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pull } from '../../../src/image/pull.js';
import { helperBuilt, nativeOnly, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli } from './harness.js';

const FIXTURES = process.env.SLIPWAY_FIXTURES_DIR ?? '/var/cache/slipway-fixtures';
const ARCHIVE = join(FIXTURES, 'archives/busybox.docker.tar'); // RepoTags: docker.io/library/busybox:latest
const work = mkdtempSync(join(tmpdir(), 'slipway-cli-load-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Row { ref: string; digest: string; pulledFrom?: string; platform: string }
const rows = async (env: NodeJS.ProcessEnv): Promise<Row[]> => (await cli(['images', '--json'], env).done).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);

skipUnless(helperBuilt() && userNamespacesAllowed(), 'layers are unpacked with the helper\'s id mapping rootless')('slipway pull of a file, rmi', () => {
  nativeOnly('images, rmi and prune work on slipway\'s own store, which the engine runtime does not use')('an archive\'s image is listed under its RepoTags, kept by prune, found offline, and rmi removes it', async () => {
    // Before: `slipway images` was empty after this pull, prune removed its layers and `--pull never busybox` failed.
    const env = { SLIPWAY_CACHE_DIR: join(work, 'store-a') };
    const r = await cli(['pull', `docker-archive:${ARCHIVE}`], env).done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Loaded image: docker.io/library/busybox:latest\n');
    expect(await rows(env)).toEqual([expect.objectContaining({ ref: 'docker.io/library/busybox:latest', digest: r.stdout.trim(), pulledFrom: `docker-archive:${ARCHIVE}` })]);
    expect((await cli(['prune', '--dry-run'], env).done).stdout).toBe('');
    const offline = await cli(['run', '--rm', '--pull', 'never', 'busybox', 'echo', 'from the archive'], env).done;
    expect(offline).toMatchObject({ code: 0, stdout: 'from the archive\n' });

    const rmi = await cli(['rmi', 'busybox'], env).done;
    expect(rmi).toMatchObject({ code: 0, stdout: 'Untagged: docker.io/library/busybox:latest (linux/amd64)\n' });
    expect(await rows(env)).toEqual([]);
    expect((await cli(['prune', '--dry-run'], env).done).stdout).toMatch(/would remove layers\//);
    const again = await cli(['rmi', 'busybox'], env).done;
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/ERR_IMAGE_NOT_PRESENT: no such image in the store at .*: docker\.io\/library\/busybox:latest; fix: `slipway images` lists/);
  });

  nativeOnly('slipway\'s own store')('an archive without names and an OCI layout with a bare tag get a name from the config digest, as docker load\'s image ID', async () => {
    const dir = join(work, 'unnamed');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('tar', ['-xf', ARCHIVE, '-C', dir]);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; RepoTags?: string[] }[];
    // No RepoTags, as `docker save <image id>` writes; a hostile name is skipped, never recorded. (The file came out
    // of the archive read-only.)
    rmSync(join(dir, 'manifest.json'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ ...manifest[0], RepoTags: ['../../etc/passwd', 'busy box:1', `busybox@sha256:${'0'.repeat(64)}`] }]));
    const unnamed = join(work, 'unnamed.tar');
    execFileSync('tar', ['-cf', unnamed, '-C', dir, '.']);
    const storeDir = join(work, 'store-b');
    const env = { SLIPWAY_CACHE_DIR: storeDir };
    const r = await cli(['pull', `docker-archive:${unnamed}`], env).done;
    expect(r.code).toBe(0);
    const id = manifest[0]!.Config.replace(/^blobs\/sha256\//, '').slice(0, 12);
    expect(r.stderr).toContain(`Loaded image: localhost/slipway-load:${id}\n`);
    const layout = await pull(`oci-layout:${join(FIXTURES, 'oci/busybox')}:latest`, { storeDir });
    expect(layout.loadedAs).toEqual([expect.stringMatching(/^localhost\/slipway-load:[0-9a-f]{12}$/)]);
    expect((await rows(env)).map((x) => x.ref).sort()).toEqual([...new Set([`localhost/slipway-load:${id}`, layout.loadedAs![0]!])].sort());
  });
  nativeOnly('slipway\'s own store')('a loaded image saves and pushes like a pulled one, even when its layers were unpacked before without their blobs', async () => {
    // Before: `slipway save`/`push` of a loaded image failed with ERR_IMAGE_NOT_PRESENT "its manifest … is not in the
    // store" and a hint to pull again, which could not help: a file load kept no manifest, config or layer blob.
    const storeDir = join(work, 'store-c');
    const env = { SLIPWAY_CACHE_DIR: storeDir };
    // The layout first (its layer gets unpacked), then the archive of the same busybox: the archive's layer is
    // already unpacked, so only its blob is read from the archive.
    const layout = await pull(`oci-layout:${join(FIXTURES, 'oci/busybox')}:latest`, { storeDir });
    expect((await cli(['pull', `docker-archive:${ARCHIVE}`], env).done).code).toBe(0);
    const nonce = process.pid.toString(36);
    for (const [name, src] of [['docker.io/library/busybox:latest', 'archive'], [layout.loadedAs![0]!, 'layout']] as const) {
      const out = join(work, `saved-${src}.tar`);
      const saved = await cli(['save', '-o', `docker-archive:${out}`, name], env).done;
      expect(saved, saved.stderr).toMatchObject({ code: 0, stdout: `docker-archive:${out}\n` });
      // Read back into a clean store and run.
      const back = { SLIPWAY_CACHE_DIR: join(work, `store-back-${src}`) };
      const loaded = await cli(['pull', `docker-archive:${out}`], back).done;
      expect(loaded, loaded.stderr).toMatchObject({ code: 0 });
      const name2 = /Loaded image: (\S+)/.exec(loaded.stderr)![1]!;
      expect(await cli(['run', '--rm', '--pull', 'never', name2, 'echo', `saved from the ${src}`], back).done).toMatchObject({ code: 0, stdout: `saved from the ${src}\n` });
      // Pushed to the test registry, pulled back into a clean store and run.
      const dest = `${registry()}/slipway-test/loaded-${src}-${nonce}:1`;
      const pushed = await cli(['push', name, dest], env).done;
      expect(pushed, pushed.stderr + pushed.stdout).toMatchObject({ code: 0 });
      const fresh = { SLIPWAY_CACHE_DIR: join(work, `store-pulled-${src}`) };
      expect(await cli(['run', '--rm', dest, 'echo', `pushed from the ${src}`], fresh).done).toMatchObject({ code: 0, stdout: `pushed from the ${src}\n` });
    }
  });
});

/**
 * What happens to a built image: exported as an OCI layout and as a `docker save` archive (structure checked
 * against the formats, layers gzip with digests that match their bytes and the config's diff ids), read back by our
 * own importer into a clean store and run; pushed to the real test registry (monolithic, chunked, mounted, with
 * basic auth), pulled back into a clean store and run. Root and rootless.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { createReadStream } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exportImage, pushImage, SlipwayError } from '../../../src/index.js';
import { buildImage, type BuildProgress } from '../../../src/build/builder.js';
import { pull } from '../../../src/image/pull.js';
import { authRegistry, engineRuntime, fixtureRef, hasCommand, helperBuilt, nativeOnly, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli } from '../cli/harness.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Every entry of a tar file: name → bytes. */
async function readTar(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  createReadStream(file).pipe(ex);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

interface Manifest { mediaType: string; config: { digest: string; size: number; mediaType: string }; layers: { digest: string; size: number; mediaType: string }[] }

/** Checks an OCI manifest's blobs as `blob(digest)` gives them: sizes, digests, gzip layers whose content is the diff ids. */
function checkImageBlobs(manifest: Manifest, blob: (digest: string) => Buffer): { config: { config: { Cmd?: string[] }; rootfs: { diff_ids: string[] } } } {
  expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  const cfgBytes = blob(manifest.config.digest);
  expect(sha(cfgBytes)).toBe(manifest.config.digest);
  expect(cfgBytes.length).toBe(manifest.config.size);
  const config = JSON.parse(cfgBytes.toString()) as { config: { Cmd?: string[] }; rootfs: { diff_ids: string[] } };
  expect(manifest.layers.length).toBe(config.rootfs.diff_ids.length);
  manifest.layers.forEach((l, i) => {
    expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const b = blob(l.digest);
    expect(sha(b)).toBe(l.digest);
    expect(b.length).toBe(l.size);
    expect(sha(gunzipSync(b))).toBe(config.rootfs.diff_ids[i]);
  });
  return { config };
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'builds need the built helper (make -C native) and user namespaces')('export and push of built images', () => {
  const nonce = randomBytes(4).toString('hex');
  const tag = `slipway-test/export-${nonce}:1`;
  let built: Awaited<ReturnType<typeof buildImage>>;
  const events: BuildProgress[] = [];

  beforeAll(async () => {
    const ctx = tempDir('slipway-export-ctx-');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${fixtureRef('busybox')}\nCOPY msg /msg\nRUN echo "run $(cat /msg)" > /run.txt\nCMD ["cat", "/msg", "/run.txt"]\n`);
    writeFileSync(join(ctx, 'msg'), `hello ${nonce}\n`);
    built = await buildImage(ctx, { tag, onProgress: (e) => events.push(e) });
  }, 300_000);

  it('reports each step on onProgress: started (or cached), and done with its time for the steps that ran', () => {
    expect(built.executed).toBe(2);
    const seq = events.map((e) => (e.type === 'output' ? `output ${e.line}` : `${e.type} ${e.step}/${e.total}${e.type === 'step' && e.cached ? ' cached' : ''}`));
    expect(seq).toEqual(['step 1/4 cached', 'step 2/4', 'done 2/4', 'step 3/4', 'done 3/4', 'step 4/4 cached']);
    const done = events.filter((e) => e.type === 'done');
    expect(done.map((e) => e.type === 'done' && e.instruction)).toEqual(['COPY msg /msg', 'RUN echo "run $(cat /msg)" > /run.txt']);
    for (const e of done) expect(e.type === 'done' && Number.isInteger(e.durationMs) && e.durationMs >= 0).toBe(true);
  });

  nativeOnly("exportImage and pushImage read slipway's image store; a build on the engine lands in the engine's store")('exports to an OCI layout (tagged, gzip layers with matching digests) that our importer runs from a clean store', async () => {
    const dir = join(tempDir('slipway-export-oci-'), 'layout');
    const r = await exportImage(tag, `oci-layout:${dir}:v1`);
    expect(r.dest).toBe(`oci-layout:${dir}:v1`);
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { schemaVersion: number; manifests: { digest: string; annotations: Record<string, string> }[] };
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.annotations['org.opencontainers.image.ref.name']).toBe('v1');
    expect(index.manifests[0]!.digest).toBe(r.manifestDigest);
    const blob = (d: string): Buffer => readFileSync(join(dir, 'blobs', 'sha256', d.slice(7)));
    const manifest = JSON.parse(blob(r.manifestDigest).toString()) as Manifest;
    const { config } = checkImageBlobs(manifest, blob);
    expect(config.config.Cmd).toEqual(['cat', '/msg', '/run.txt']);
    // A second export into the same layout under another tag keeps the first; the same layer gives the same digest.
    const again = await exportImage(tag, `oci-layout:${dir}:v2`);
    expect(again.manifestDigest).toBe(r.manifestDigest);
    expect((JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as typeof index).manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual(['v1', 'v2']);
    if (hasCommand('skopeo')) {
      const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}:v1`], { encoding: 'utf8' })) as Manifest;
      expect(inspected.layers.map((l) => l.digest)).toEqual(manifest.layers.map((l) => l.digest));
    }
    const store = tempDir('slipway-export-store-');
    const run = await cli(['run', '--rm', `oci-layout:${dir}:v1`], { SLIPWAY_CACHE_DIR: store }).done;
    expect(run, run.stderr).toMatchObject({ code: 0, stdout: `hello ${nonce}\nrun hello ${nonce}\n` });
  });

  nativeOnly("exportImage and pushImage read slipway's image store; a build on the engine lands in the engine's store")('exports a docker save archive (manifest.json, repositories, OCI blobs) that `slipway save` writes too and our importer runs', async () => {
    const file = join(tempDir('slipway-export-archive-'), 'image.tar');
    const r = await exportImage(tag, `docker-archive:${file}`);
    const entries = await readTar(file);
    const mj = JSON.parse(entries.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(mj).toHaveLength(1);
    expect(mj[0]!.RepoTags).toEqual([tag]);
    expect(mj[0]!.Config).toBe(`blobs/sha256/${r.configDigest.slice(7)}`);
    const blob = (d: string): Buffer => entries.get(`blobs/sha256/${d.slice(7)}`)!;
    const manifest = JSON.parse(blob(r.manifestDigest).toString()) as Manifest;
    const { config } = checkImageBlobs(manifest, blob);
    expect(sha(entries.get(mj[0]!.Config)!)).toBe(r.configDigest);
    // Docker's manifest.json lists the same layer blobs, bottom first; docker load checks them against the diff ids.
    expect(mj[0]!.Layers).toEqual(manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`));
    mj[0]!.Layers.forEach((name, i) => expect(sha(gunzipSync(entries.get(name)!))).toBe(config.rootfs.diff_ids[i]));
    const [repo, t] = [tag.slice(0, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
    expect(JSON.parse(entries.get('repositories')!.toString())).toEqual({ [repo]: { [t]: r.configDigest.slice(7) } });
    expect(JSON.parse(entries.get('index.json')!.toString()).manifests[0].digest).toBe(r.manifestDigest);
    expect(entries.has('oci-layout')).toBe(true);
    if (hasCommand('skopeo')) {
      const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${file}`], { encoding: 'utf8' })) as { Layers: string[] };
      expect(inspected.Layers).toHaveLength(manifest.layers.length);
    }
    const store = tempDir('slipway-export-store-');
    const run = await cli(['run', '--rm', `docker-archive:${file}`], { SLIPWAY_CACHE_DIR: store }).done;
    expect(run, run.stderr).toMatchObject({ code: 0, stdout: `hello ${nonce}\nrun hello ${nonce}\n` });
    // The CLI writes the same archive (same bytes: gzip and tar headers are reproducible).
    const viaCli = join(tempDir('slipway-export-archive-'), 'cli.tar');
    const saved = await cli(['save', '-o', viaCli, tag]).done;
    expect(saved, saved.stderr).toMatchObject({ code: 0, stdout: `docker-archive:${viaCli}\n` });
    expect(sha(readFileSync(viaCli))).toBe(sha(readFileSync(file)));
  });

  it('refuses what it cannot export, with the fix', async () => {
    const err = await exportImage(`slipway-test/never-built-${nonce}:1`, 'docker-archive:/tmp/x.tar').catch((e: unknown) => e);
    // On the engine images are in the engine's store, which exportImage does not read: refused with its command.
    expect(SlipwayError.is(err, engineRuntime() ? 'ERR_UNSUPPORTED' : 'ERR_IMAGE_NOT_PRESENT'), String(err)).toBe(true);
    if (engineRuntime()) {
      expect((err as SlipwayError).hint).toContain('docker save');
      // The build of this file landed in the engine's store, not slipway's: the engine pushes it, and the registry
      // serves the manifest it names; a second push sends no layer again.
      const dest = `${registry()}/slipway-test/engine-push-${nonce}:1`;
      const pushed = await pushImage(tag, { to: dest });
      expect(pushed).toMatchObject({ ref: dest, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      expect(pushed.uploaded + pushed.mounted + pushed.existing).toBeGreaterThanOrEqual(3); // busybox's layer, COPY, RUN
      const head = await fetch(`http://${registry()}/v2/slipway-test/engine-push-${nonce}/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
      expect(head.headers.get('docker-content-digest')).toBe(pushed.digest);
      const again = await pushImage(tag, { to: dest });
      expect(again).toMatchObject({ digest: pushed.digest, uploaded: 0 });
      // An image neither store holds is not present (natively the same).
      expect(await pushImage(`slipway-test/never-built-${nonce}:1`).then(() => 'pushed', (e: unknown) => (e as SlipwayError).code)).toBe('ERR_IMAGE_NOT_PRESENT');
      execFileSync('docker', ['rmi', dest], { stdio: 'ignore' });
    }
    const bad = await exportImage(tag, 'tarball:/tmp/x.tar').catch((e: unknown) => e);
    expect(SlipwayError.is(bad, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((bad as SlipwayError).hint).toMatch(/oci-layout:<dir>\[:tag\] or docker-archive:<file.tar>/);
  });

  nativeOnly("exportImage and pushImage read slipway's image store; a build on the engine lands in the engine's store")('pushes to the registry (monolithic, then chunked), and a clean store pulls it back and runs it; a second push sends nothing', async () => {
    const dest = `${registry()}/slipway-test/pushed-${nonce}:1`;
    const r = await pushImage(tag, { to: dest });
    expect(r).toMatchObject({ ref: dest, mounted: 0, existing: 0 });
    expect(r.uploaded).toBeGreaterThanOrEqual(4); // busybox's layers, COPY, RUN, config
    const again = await pushImage(tag, { to: dest });
    expect(again).toMatchObject({ digest: r.digest, uploaded: 0, existing: r.uploaded });
    const chunked = `${registry()}/slipway-test/chunked-${nonce}:1`;
    const c = await pushImage(tag, { to: chunked, chunkSize: 64 << 10 }); // the busybox layer in several PATCHes
    expect(c.digest).toBe(r.digest);
    for (const ref of [dest, `${chunked}@${r.digest}`]) {
      const store = tempDir('slipway-push-store-');
      const run = await cli(['run', '--rm', ref], { SLIPWAY_CACHE_DIR: store }).done;
      expect(run, run.stderr).toMatchObject({ code: 0, stdout: `hello ${nonce}\nrun hello ${nonce}\n` });
    }
  });

  it('mounts the layers of a pulled image from its repository on the same registry', async () => {
    const base = fixtureRef('busybox');
    const img = await pull(base);
    const dest = `${registry()}/slipway-test/mounted-${nonce}:1`;
    const r = await pushImage(base, { to: dest });
    expect(r.mounted).toBe(img.layers.length + 1); // and the config
    const back = await pull(dest, { storeDir: tempDir('slipway-push-store-'), policy: 'always' });
    expect(back.layers.map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
  });

  nativeOnly("exportImage and pushImage read slipway's image store; a build on the engine lands in the engine's store")('pushes to the basic-auth registry with credentials from a Docker config, and says how to log in without them', async () => {
    const auth = authRegistry();
    const dest = `${auth.address}/slipway-test/authed-${nonce}:1`;
    const noCreds = tempDir('slipway-push-nocreds-');
    const env = { ...process.env, DOCKER_CONFIG: noCreds, REGISTRY_AUTH_FILE: join(noCreds, 'auth.json') };
    const refused = await pushImage(tag, { to: dest, env }).catch((e: unknown) => e);
    expect(SlipwayError.is(refused, 'ERR_REGISTRY_AUTH'), String(refused)).toBe(true);
    expect((refused as SlipwayError).hint).toMatch(/log in to 127\.0\.0\.1:\d+/);
    const cfgDir = tempDir('slipway-push-creds-');
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [auth.address]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } }));
    const pushed = await cli(['push', tag, dest], { DOCKER_CONFIG: cfgDir }).done;
    expect(pushed, pushed.stderr).toMatchObject({ code: 0 });
    expect(pushed.stdout).toMatch(new RegExp(`^${dest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@sha256:[0-9a-f]{64}\n$`));
    expect(existsSync(cfgDir)).toBe(true);
  });
});

// Image pulls on the engine runtime: the public pull() fills the engine's store, its progress stream is mapped to
// onProgress, and slipway's credentials reach the engine as X-Registry-Auth (the loopback registry that demands basic auth).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pull, type PullProgress } from '../../../src/index.js';
import { authRegistry, registry, skipUnless } from '../harness/index.js';
import { pushFreshImage } from '../harness/fresh-image.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: pull', () => {
  const images: string[] = [];
  const dirs: string[] = [];
  afterAll(() => {
    for (const i of images) { try { docker('rmi', '-f', i); } catch { /* not pulled */ } }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('pull() fills the engine\'s store, with the engine\'s progress as onProgress events and the layers from the registry', async () => {
    const repo = `engine-pull/${randomBytes(4).toString('hex')}`;
    const pushed = await pushFreshImage(registry(), repo);
    const ref = `${registry()}/${repo}:latest`;
    images.push(ref);
    const events: PullProgress[] = [];
    const image = await pull(ref, { onProgress: (e) => events.push(e) });
    expect(image).toMatchObject({ ref, digest: pushed.manifestDigest, manifestDigest: pushed.manifestDigest, source: 'registry', layers: [pushed.layer], platform: { os: 'linux', architecture: 'amd64' } });
    // The engine, not slipway's store, has it: containers on the engine start from it.
    expect(docker('image', 'inspect', '-f', '{{index .RepoDigests 0}}', ref)).toBe(`${registry()}/${repo}@${pushed.manifestDigest}`);
    // The engine names layers by 12 hex digits; sizes are the compressed bytes, as natively; the last event is complete.
    const layer = `sha256:${pushed.layer.digest.slice(7, 19)}`;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.layer === layer && e.total === pushed.layer.size && e.current <= e.total)).toBe(true);
    expect(events.at(-1)).toEqual({ layer, current: pushed.layer.size, total: pushed.layer.size });
    // Policy missing: the engine has it, nothing is pulled again.
    const again: PullProgress[] = [];
    expect(await pull(ref, { onProgress: (e) => again.push(e) })).toMatchObject({ source: 'cache', digest: pushed.manifestDigest, layers: [pushed.layer] });
    expect(again).toEqual([]);
  });

  it('credentials from the Docker config reach the engine as X-Registry-Auth; without them the pull is ERR_REGISTRY_AUTH', async () => {
    const auth = authRegistry();
    const basic = { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
    const repo = `engine-pull-auth/${randomBytes(4).toString('hex')}`;
    const pushed = await pushFreshImage(auth.address, repo, basic);
    const ref = `${auth.address}/${repo}:latest`;
    images.push(ref);
    const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-auth-'));
    dirs.push(dir);
    const saved = process.env.DOCKER_CONFIG;
    try {
      process.env.DOCKER_CONFIG = dir; // no config.json: no credentials
      const refused = await pull(ref).then(() => undefined, (e: unknown) => e as { code?: string; message?: string } | undefined);
      expect(refused?.code, refused?.message).toBe('ERR_REGISTRY_AUTH'); // the whole message when it is another code
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [auth.address]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } }));
      const image = await pull(ref);
      expect(image).toMatchObject({ digest: pushed.manifestDigest, source: 'registry', layers: [pushed.layer] });
      expect(docker('image', 'inspect', '-f', '{{.Id}}', ref)).toMatch(/^sha256:/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG; else process.env.DOCKER_CONFIG = saved;
    }
  });
});

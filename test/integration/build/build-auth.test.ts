/**
 * A FROM image on a registry that demands credentials: the build takes them from the Docker config on either
 * runtime (natively the builder's pull; on the engine they go with the build as X-Registry-Config, as the docker CLI
 * sends them), and without them the build is ERR_REGISTRY_AUTH.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildImage } from '../../../src/build/builder.js';
import { authRegistry, engineRuntime, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { pushFreshImage } from '../harness/fresh-image.js';
import { codeOf, context } from './build-helpers.js';

const dirs: string[] = [];
const images: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const i of images) { try { execFileSync('docker', ['rmi', '-f', i], { stdio: 'ignore' }); } catch { /* not built */ } }
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'builds need the built helper (make -C native) and user namespaces')('build: FROM a registry with basic auth', () => {
  it('credentials from the Docker config reach the FROM pull; without them the build is ERR_REGISTRY_AUTH', async () => {
    const auth = authRegistry();
    const repo = `build-auth/${randomBytes(4).toString('hex')}`; // never pulled before, by either runtime
    await pushFreshImage(auth.address, repo, { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` });
    const ctx = await context({ 'Dockerfile': `FROM ${auth.address}/${repo}:latest\nCOPY note /note\n`, 'note': 'built\n' });
    const tag = `slipway-test/build-auth:${randomBytes(4).toString('hex')}`;
    if (engineRuntime()) images.push(tag, `${auth.address}/${repo}:latest`);
    const [none, dir] = [mkdtempSync(join(tmpdir(), 'slipway-build-noauth-')), mkdtempSync(join(tmpdir(), 'slipway-build-auth-'))];
    dirs.push(none, dir);
    const saved = process.env.DOCKER_CONFIG;
    try {
      process.env.DOCKER_CONFIG = none; // no config.json: no credentials
      expect(await codeOf(buildImage(ctx, { tag }))).toBe('ERR_REGISTRY_AUTH');
      process.env.DOCKER_CONFIG = dir;
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [auth.address]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } }));
      const built = await buildImage(ctx, { tag });
      expect(built.ref).toBe(`docker.io/${tag}`);
      expect(built.executed).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG; else process.env.DOCKER_CONFIG = saved;
    }
  });
});

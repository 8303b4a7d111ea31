import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockAgent } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { writeLocalImage } from '../../../src/image/local-image.js';
import { hostPlatform } from '../../../src/image/platform.js';
import { pushImage, type PushOptions } from '../../../src/image/push.js';
import { ImageStore } from '../../../src/image/store.js';

const tmps: string[] = [];
afterEach(async () => {
  await Promise.all(tmps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A store holding one image without layers (config and manifest only), tagged `ref`. */
async function storeWith(ref: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-push-'));
  tmps.push(dir);
  await writeLocalImage(new ImageStore(dir), { platform: hostPlatform(), config: { Cmd: ['true'] }, layers: [], history: [], tag: ref, defaultName: 'x', storeDir: dir });
  return dir;
}

it('speaks plain HTTP to a non-loopback registry only when it is configured insecure', async () => {
  const ref = 'registry.test:5000/team/app:1';
  const storeDir = await storeWith(ref);
  const agent = new MockAgent();
  agent.disableNetConnect();
  const http = agent.get('http://registry.test:5000');
  http.intercept({ path: '/v2/', method: 'GET' }).reply(200, '{}').persist();
  http.intercept({ path: /^\/v2\/team\/app\/blobs\/sha256:/, method: 'HEAD' }).reply(200, '').persist();
  http.intercept({ path: '/v2/team/app/manifests/1', method: 'PUT' }).reply(201, '').persist();
  const registry = { dispatcher: agent, retry: { retries: 0 }, credentials: async () => undefined };
  const env = { ...process.env, SLIPWAY_INSECURE_REGISTRIES: '' };
  // Not configured: https only, which this registry does not serve (the mock refuses any other origin).
  const refused = await pushImage(ref, { storeDir, env, registry } as PushOptions).catch((e: unknown) => e);
  expect(SlipwayError.is(refused), String(refused)).toBe(true);
  expect((refused as SlipwayError).message).toContain('origin https://registry.test:5000 was not allowed');
  const pushed = await pushImage(ref, { storeDir, env, registry, insecureRegistries: ['registry.test:5000'] } as PushOptions);
  expect(pushed).toMatchObject({ ref, existing: 1, uploaded: 0 });
  await agent.close();
});

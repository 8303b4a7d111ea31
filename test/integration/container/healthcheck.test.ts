import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, Wait } from '../../../src/index.js';
import { fixtureLayout, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** A copy of the busybox OCI layout whose image config carries a HEALTHCHECK (written as Docker does). */
function layoutWithHealthcheck(test: string[]): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'slipway-hc-')), 'layout');
  cpSync(fixtureLayout('busybox'), dir, { recursive: true });
  const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.replace('sha256:', ''));
  const put = (json: unknown) => {
    const data = Buffer.from(JSON.stringify(json));
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(blob(digest), data);
    return { digest, size: data.length };
  };
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const entry = index.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === 'latest');
  const manifest = JSON.parse(readFileSync(blob(entry.digest), 'utf8'));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  config.config = { ...config.config, Healthcheck: { Test: test, Interval: 100_000_000 } };
  manifest.config = { ...manifest.config, ...put(config) };
  const m = put(manifest);
  index.manifests = [{ ...entry, digest: m.digest, size: m.size, annotations: { 'org.opencontainers.image.ref.name': 'hc' } }];
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('image HEALTHCHECK', () => {
  nativeOnly('its image is an OCI layout, which an engine cannot load')('is the default wait strategy (as in testcontainers) and Wait.forHealthCheck() runs it', async () => {
    const ref = `oci-layout:${layoutWithHealthcheck(['CMD-SHELL', 'test -f /tmp/ready'])}:hc`;
    const cmd = ['sh', '-c', 'sleep 0.4; touch /tmp/ready; sleep 1000'];
    const t0 = Date.now();
    await using c = await new Container(ref).withCommand(cmd).start();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect((await c.exec(['ls', '/tmp/ready'])).exitCode).toBe(0);
    const err = await new Container(ref).withCommand(['sleep', '1000']).waitFor(Wait.forHealthCheck().withStartupTimeout(700)).start()
      .then(() => undefined, (e: Error) => e);
    expect(String(err)).toMatch(/ERR_WAIT_TIMEOUT.*Health check not healthy after 700ms/);
  });
});

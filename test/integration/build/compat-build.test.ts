/** testcontainers' `GenericContainer.fromDockerfile(...).build()` on slipway's builder. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { GenericContainer, PullPolicy, SlipwayError } from '../../../src/testcontainers.js';
import { pull } from '../../../src/image/index.js';
import { hostPlatform } from '../../../src/image/platform.js';
import { engineRuntime, fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const ctx = mkdtempSync(join(tmpdir(), 'slipway-tc-build-'));
afterAll(() => rmSync(ctx, { recursive: true, force: true }));

skipUnless(helperBuilt() && userNamespacesAllowed(), 'builds need the built helper (make -C native) and user namespaces')('GenericContainer.fromDockerfile', () => {
  it('builds with build args and a target, and starts a container of the image', async () => {
    writeFileSync(join(ctx, 'app.Dockerfile'), [
      `FROM ${fixtureRef('busybox')} AS app`,
      'ARG MSG=default',
      'RUN echo "$MSG" > /msg',
      'CMD ["sleep", "1000"]',
      `FROM ${fixtureRef('busybox')} AS other`,
      'RUN exit 1',
    ].join('\n'));
    const built = await GenericContainer.fromDockerfile(ctx, 'app.Dockerfile')
      .withBuildArgs({ MSG: 'from build args' }).withTarget('app').withCache(false).withPullPolicy(PullPolicy.defaultPolicy())
      .build('slipway-test/tc-build:1');
    const started = await built.start();
    try {
      const r = await started.exec(['cat', '/msg']);
      expect(r.output.trim()).toBe('from build args');
    } finally {
      await started.stop();
    }
    // withPlatform reaches the builder: a COPY-only image for another platform is stored for that platform.
    const foreign = hostPlatform().architecture === 'arm64' ? 'amd64' : 'arm64';
    writeFileSync(join(ctx, 'scratch.Dockerfile'), 'FROM scratch\nCOPY app.Dockerfile /x\n');
    await GenericContainer.fromDockerfile(ctx, 'scratch.Dockerfile').withPlatform(`linux/${foreign}`).build('slipway-test/tc-build:foreign');
    // In the store the build wrote: slipway's natively, the engine's on the engine (where the native store is not written).
    const stored = engineRuntime()
      ? execFileSync('docker', ['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'slipway-test/tc-build:foreign'], { encoding: 'utf8' }).trim().split('/')[1]
      : (await pull('slipway-test/tc-build:foreign', { policy: 'never', platform: `linux/${foreign}` })).platform.architecture;
    expect(stored).toBe(foreign);
    expect(() => GenericContainer.fromDockerfile(ctx).withPlatform('')).toThrow(SlipwayError);
  });
});

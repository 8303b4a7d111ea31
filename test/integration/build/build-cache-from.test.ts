/**
 * The cache of `COPY --from`: keyed by the source stage's own key (which names all its content) instead of a walk of
 * its files, so a cached rebuild does not read them; a change in the source stage still re-runs the copy.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { buildImage } from '../../../src/build/builder.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'builds need the built helper (make -C native) and user namespaces')('COPY --from cache', () => {
  it('reuses COPY --from while its stage is unchanged, and copies again (new content) when a file the stage copied changes', async () => {
    const ctx = await mkdtemp(join(tmpdir(), 'slipway-build-from-'));
    roots.push(ctx);
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${fixtureRef('busybox')} AS src\nCOPY v.txt /out/v.txt\nRUN cat /out/v.txt /out/v.txt > /out/twice\n\nFROM ${fixtureRef('busybox')}\nCOPY --from=src /out /copied\nCMD ["cat", "/copied/twice"]\n`);
    await writeFile(join(ctx, 'v.txt'), `one ${Math.random()}\n`);
    const first = await buildImage(ctx, { tag: 'slipway-test/cache-from:1' });
    expect(first.executed).toBe(3);
    const again = await buildImage(ctx, { tag: 'slipway-test/cache-from:1' });
    expect([again.executed, again.digest]).toEqual([0, first.digest]);
    const two = `two ${Math.random()}\n`; // never built before, in any run
    await writeFile(join(ctx, 'v.txt'), two);
    const changed = await buildImage(ctx, { tag: 'slipway-test/cache-from:2' });
    expect(changed.executed).toBe(3);
    const r = await new Container(changed.ref).run();
    expect(r.stdout).toBe(two + two);
  });
});

/**
 * `--platform` builds: FROM --platform, the predefined BUILD…/TARGET… ARGs with BuildKit's values, a foreign target
 * built from COPY-only stages, and a RUN for a CPU this machine does not have refused clearly (no emulation).
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { pull } from '../../../src/image/index.js';
import { SlipwayError } from '../../../src/index.js';
import { buildImage } from '../../../src/build/builder.js';
import { hostPlatform } from '../../../src/image/platform.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { configFile, context, inspect } from './build-helpers.js';

const host = hostPlatform();
const hostString = `${host.os}/${host.architecture}${host.variant && !(host.architecture === 'arm64' && host.variant === 'v8') ? `/${host.variant}` : ''}`;
/** A platform this machine cannot execute. */
const foreign = host.architecture === 'arm64' ? { s: 'linux/amd64', arch: 'amd64', variant: '' } : { s: 'linux/arm64', arch: 'arm64', variant: '' };

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('build --platform', () => {
  it('a foreign target: tools run in a FROM --platform=$BUILDPLATFORM stage, the result is COPY-only and records the target platform', async () => {
    const ctx = await context({
      'Dockerfile': [
        'ARG TARGETARCH',
        `FROM --platform=$BUILDPLATFORM ${fixtureRef('busybox')} AS tools`,
        'ARG TARGETPLATFORM',
        'ARG TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDARCH',
        'RUN echo "$BUILDPLATFORM $BUILDARCH -> $TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT]" > /out && echo "undeclared:[$BUILDOS]" >> /out',
        'FROM scratch',
        'COPY --from=tools /out /out',
        'COPY --from=tools /bin/sh /bin/',
      ].join('\n'),
    });
    const r = await buildImage(ctx, { platform: foreign.s, tag: `slipway-test/platform:${Date.now()}` });
    const cfg = await configFile(r.ref, foreign.s);
    expect([cfg.os, cfg.architecture, cfg.rootfs.diff_ids.length]).toEqual(['linux', foreign.arch, 2]);
    // The image is stored for its platform only (a container of it cannot run here): read its layers directly.
    await expect(pull(r.ref, { policy: 'never' })).rejects.toThrow(/is not in the store/);
    const layers = (await pull(r.ref, { policy: 'never', platform: foreign.s })).layers;
    expect(await readFile(join(layers[0]!.dir!, 'out'), 'utf8')).toBe(`${hostString} ${host.architecture} -> ${foreign.s} linux ${foreign.arch} [${foreign.variant}]\nundeclared:[]\n`);
    expect((await lstat(join(layers[1]!.dir!, 'bin/sh'))).isFile() || (await lstat(join(layers[1]!.dir!, 'bin/sh'))).isSymbolicLink()).toBe(true);
  });

  it('without --platform the TARGET* args are this machine\'s; a RUN in a stage for another CPU fails clearly, naming both platforms', async () => {
    const ctx = await context({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nARG TARGETPLATFORM\nRUN echo "$TARGETPLATFORM" > /t\n`,
    });
    const r = await buildImage(ctx, {});
    expect((await inspect(r.ref, ['/t']))['/t']).toBe(`644 0:0 regular file\n${hostString}`);
    const foreignRun = await context({ 'Dockerfile': `FROM --platform=${foreign.s} scratch\nCOPY Dockerfile /x\nRUN true\n` });
    const err = await buildImage(foreignRun, {}).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toContain(`line 3 (RUN): the stage is for ${foreign.s}`);
    expect((err as Error).message).toMatch(/does not emulate other CPUs/);
    expect((err as SlipwayError).hint).toMatch(/BUILDPLATFORM/);
    const bad = await context({ 'Dockerfile': 'FROM --platform=linux//x scratch\nCOPY Dockerfile /x\n' });
    await expect(buildImage(bad, {})).rejects.toThrow(/line 1 \(FROM\): --platform=linux\/\/x/);
  });
});

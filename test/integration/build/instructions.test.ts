/**
 * Instruction details beyond the common path, with Docker's semantics: COPY/ADD --exclude (GA in Dockerfile 1.19),
 * COPY --link accepted, ADD --unpack=false, predefined proxy args (in RUN without an ARG line, not in the image, not
 * in the cache key), and labs-only or unknown flags refused. Root and rootless.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { expect, it } from 'vitest';
import { SlipwayError } from '../../../src/index.js';
import { buildImage } from '../../../src/build/builder.js';
import { fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { codeOf, configFile, context, inspect } from './build-helpers.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('Dockerfile instruction details', () => {
  nativeOnly("COPY --exclude/--link and ADD --unpack: the engine's builder, Docker 20.10's BuildKit, has none (refused)")('COPY --exclude (with ! exceptions, relative to each source) and --link; ADD --unpack=false copies the archive', async () => {
    const p = tarPack();
    p.entry({ name: 'inside.txt' }, 'in');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const ctx = await context({
      'Dockerfile': [
        `FROM ${fixtureRef('busybox')}`,
        'COPY --link --exclude=*.md --exclude=!keep.md --exclude=tmp app/ /app/',
        'COPY --exclude=*.log *.txt *.log /top/',
        'ADD --unpack=false pkg.tgz /pkg/',
      ].join('\n'),
      'app/main.js': 'main', 'app/readme.md': 'readme', 'app/keep.md': 'keep', 'app/sub/notes.md': 'notes', 'app/sub/x.js': 'x',
      'app/tmp/junk': 'junk', 'a.txt': 'a', 'b.log': 'b',
      'pkg.tgz': gzipSync(Buffer.concat(chunks)),
    });
    const r = await buildImage(ctx, {});
    const seen = await inspect(r.ref, ['/app/main.js', '/app/readme.md', '/app/keep.md', '/app/sub/notes.md', '/app/sub/x.js', '/app/tmp', '/top/a.txt', '/top/b.log', '/pkg/pkg.tgz', '/pkg/inside.txt']);
    expect(seen).toMatchObject({
      '/app/main.js': '644 0:0 regular file\nmain', '/app/readme.md': 'absent', '/app/keep.md': '644 0:0 regular file\nkeep',
      '/app/sub/notes.md': '644 0:0 regular file\nnotes', '/app/sub/x.js': '644 0:0 regular file\nx', '/app/tmp': 'absent',
      '/top/a.txt': '644 0:0 regular file\na', '/top/b.log': 'absent', '/pkg/inside.txt': 'absent',
    });
    expect(seen['/pkg/pkg.tgz']).toMatch(/^644 0:0 regular file/);
  });

  it('proxy build args reach RUN without an ARG line, stay out of the image and of the cache key; a declared ARG does not', async () => {
    const ctx = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN echo "proxy=$HTTP_PROXY no=$no_proxy other=$OTHER" > /seen\n` });
    const tag = `slipway-test/proxy:${Date.now()}`;
    const first = await buildImage(ctx, { tag, cache: false, buildArgs: { HTTP_PROXY: 'http://127.0.0.1:3128', no_proxy: 'localhost', OTHER: 'x' } });
    expect((await inspect(first.ref, ['/seen']))['/seen']).toBe('644 0:0 regular file\nproxy=http://127.0.0.1:3128 no=localhost other=');
    const cfg = await configFile(first.ref);
    expect(JSON.stringify(cfg)).not.toContain('3128');
    const other = await buildImage(ctx, { tag, buildArgs: { HTTP_PROXY: 'http://127.0.0.1:9999' } });
    expect([other.executed, other.digest]).toEqual([0, first.digest]);
  });

  nativeOnly("--keep-git-dir and --unpack are refused as unsupported on the engine before their use is checked: the engine's builder, Docker 20.10's BuildKit, has neither")('labs-only and unknown flags are refused with the line', async () => {
    const parents = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nCOPY --parents a/x /dst/\n`, 'a/x': 'x' });
    const err = await buildImage(parents, {}).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_UNSUPPORTED') && err.message).toMatch(/line 2 \(COPY --parents\)/);
    const unknown = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nCOPY --chmode=0644 a /a\n`, 'a': 'a' });
    expect(await codeOf(buildImage(unknown, {}))).toBe('ERR_DOCKERFILE_PARSE');
    const git = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nADD --keep-git-dir=true a /a\n`, 'a': 'a' });
    expect(await codeOf(buildImage(git, {}))).toBe('ERR_BUILD');
    await writeFile(join(git, 'Dockerfile'), `FROM ${fixtureRef('busybox')}\nADD --unpack=maybe a /a\n`);
    expect(await codeOf(buildImage(git, {}))).toBe('ERR_BUILD');
  });
});

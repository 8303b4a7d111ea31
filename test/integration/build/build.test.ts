/**
 * Dockerfile builds on slipway's own runtime, checked from inside the built image (what a container sees: modes,
 * owners, contents) and from its config (Docker's rules for each field), root and rootless.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, SlipwayError, Wait } from '../../../src/index.js';
import { pull } from '../../../src/image/index.js';
import { defaultStoreRoot } from '../../../src/image/store.js';
import { buildImage } from '../../../src/build/builder.js';
import { engineRuntime, fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { codeOf, configFile, context, inspect } from './build-helpers.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('Container.fromDockerfile', () => {
  nativeOnly("RUN heredocs: the engine's builder, Docker 20.10's BuildKit, has none (nor has its classic builder; refused: engine/engine-build-compose.test.ts)")('every instruction: files with modes, owners and contents as Docker makes them, and the config fields', async () => {
    const ctx = await context({
      'Dockerfile': [
        'ARG BASE',
        'FROM ${BASE} AS base',
        'ARG GREETING=hello',
        'ENV APP_HOME=/srv/app SPACED="a b"',
        'WORKDIR ${APP_HOME}',
        'COPY --chmod=0640 conf/ ./conf/',
        'COPY --chown=1000:1000 app.sh bin/',
        'COPY *.txt ./',
        'RUN echo "$GREETING from $(id -u) in $(pwd)" > greeting && chmod 0600 greeting',
        'RUN <<EOF',
        'mkdir -p /data/sub',
        'echo heredoc > /data/sub/h',
        'EOF',
        'USER 1000',
        'RUN echo mine > /tmp/by-user',
        'EXPOSE 8080 9090/udp',
        'LABEL org.test.a="x y" b=c',
        'HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost:8080 || exit 1',
        'STOPSIGNAL SIGQUIT',
        'VOLUME /data',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["cat /srv/app/greeting"]',
      ].join('\n'),
      '.dockerignore': '*.txt\n!keep.txt\nconf/secret\n',
      'keep.txt': 'kept\n',
      'drop.txt': 'dropped\n',
      'conf/a.conf': 'a=1\n',
      'conf/secret': 'no\n',
      'app.sh': { content: '#!/bin/sh\necho app\n', mode: 0o755 },
    });
    const ref = await Container.fromDockerfile(ctx, { buildArgs: { BASE: fixtureRef('busybox'), GREETING: 'hi' }, tag: 'slipway-test/every:1' });
    expect(ref).toBe('docker.io/slipway-test/every:1');
    const seen = await inspect(ref, ['/srv/app', '/srv/app/conf/a.conf', '/srv/app/conf/secret', '/srv/app/bin', '/srv/app/bin/app.sh',
      '/srv/app/keep.txt', '/srv/app/drop.txt', '/srv/app/greeting', '/data/sub/h', '/tmp/by-user', '/tmp']);
    expect(seen).toEqual({
      '/srv/app': '755 0:0 directory',
      '/srv/app/conf/a.conf': '640 0:0 regular file\na=1',
      '/srv/app/conf/secret': 'absent',
      // BuildKit creates missing destination directories with the --chown owner.
      '/srv/app/bin': '755 1000:1000 directory',
      '/srv/app/bin/app.sh': '755 1000:1000 regular file\n#!/bin/sh\necho app',
      '/srv/app/keep.txt': '644 0:0 regular file\nkept',
      '/srv/app/drop.txt': 'absent',
      '/srv/app/greeting': '600 0:0 regular file\nhi from 0 in /srv/app',
      '/data/sub/h': '644 0:0 regular file\nheredoc',
      '/tmp/by-user': '644 1000:1000 regular file\nmine',
      // A RUN that writes into /tmp keeps the base image's /tmp as it was.
      '/tmp': (await inspect(fixtureRef('busybox'), ['/tmp']))['/tmp'],
    });
    const { config } = await pull(ref, { policy: 'never' });
    expect(config.Env).toEqual(expect.arrayContaining(['APP_HOME=/srv/app', 'SPACED=a b']));
    expect(config.Env.some((e) => e.startsWith('GREETING='))).toBe(false); // ARGs are not persisted
    expect(config).toMatchObject({
      WorkingDir: '/srv/app', User: '1000', ExposedPorts: { '8080/tcp': {}, '9090/udp': {} },
      Labels: { 'org.test.a': 'x y', b: 'c' }, StopSignal: 'SIGQUIT', Volumes: { '/data': {} },
      Entrypoint: ['/bin/sh', '-c'], Cmd: ['cat /srv/app/greeting'],
      Healthcheck: { Test: ['CMD-SHELL', 'wget -q localhost:8080 || exit 1'], Interval: 5e9, Retries: 2 },
    });
    // A history entry per step, as Docker writes them: one per layer, the others marked empty_layer.
    const full = await configFile(ref);
    expect(full.history.slice(-16).map((h) => `${h.created_by.split(' ')[0]}${h.empty_layer ? '' : ' +layer'}`)).toEqual([
      'ENV', 'WORKDIR +layer', 'COPY +layer', 'COPY +layer', 'COPY +layer', 'RUN +layer', 'RUN +layer', 'USER', 'RUN +layer',
      'EXPOSE', 'LABEL', 'HEALTHCHECK', 'STOPSIGNAL', 'VOLUME', 'ENTRYPOINT', 'CMD',
    ]);
    expect(full.history.filter((h) => !h.empty_layer)).toHaveLength(full.rootfs.diff_ids.length);
    // The image runs as built: its CMD under its ENTRYPOINT, as user 1000 (who may not read the 0600 file).
    const c = await new Container(ref).withUser('0').waitFor(Wait.forOneShotStartup()).start();
    await c.wait();
    const lines: string[] = [];
    for await (const l of c.logs()) lines.push(l);
    await c.remove();
    expect(lines.join('\n')).toContain('hi from 0 in /srv/app');
  });

  it('multi-stage: --target skips stages it does not need; COPY --from; deletions are whiteouts, a recreated dir is opaque', async () => {
    const ctx = await context({
      'Dockerfile': [
        `FROM ${fixtureRef('busybox')} AS broken`,
        'RUN echo never-needed && exit 7',
        `FROM ${fixtureRef('busybox')} AS build`,
        'RUN mkdir -p /out/d /o/keep && echo one > /out/d/f && echo two > /out/g && ln -s d/f /out/link && touch /o/keep/a /o/keep/b',
        'RUN rm /out/g /bin/true && rm -rf /o/keep && mkdir /o/keep && touch /o/keep/c',
        `FROM ${fixtureRef('busybox')} AS final`,
        'COPY --from=build /out /copied',
        'COPY --from=1 /out/d/f /single',
      ].join('\n'),
    });
    const build = await Container.fromDockerfile(ctx, { target: 'build', tag: 'slipway-test/stages:build' });
    expect(await inspect(build, ['/out/g', '/bin/true', '/o/keep/a', '/o/keep/c', '/out/d/f'])).toEqual({
      '/out/g': 'absent', '/bin/true': 'absent', '/o/keep/a': 'absent', '/o/keep/c': '644 0:0 regular empty file', '/out/d/f': '644 0:0 regular file\none',
    });
    const final = await Container.fromDockerfile(ctx, { tag: 'slipway-test/stages:final' });
    expect(await inspect(final, ['/copied/d/f', '/copied/g', '/copied/link', '/single', '/bin/true', '/out'])).toEqual({
      '/copied/d/f': '644 0:0 regular file\none', '/copied/g': 'absent', '/copied/link': '777 0:0 symbolic link',
      '/single': '644 0:0 regular file\none', '/bin/true': '755 0:0 regular file', '/out': 'absent',
    });
  });

  nativeOnly("COPY heredocs: the engine's builder, Docker 20.10's BuildKit, has none (refused)")('heredoc COPY (expanded or not), SHELL, a global ARG declared again in a stage, legacy ENV, COPY --from an image', async () => {
    const ctx = await context({
      'Dockerfile': [
        'ARG BASE',
        'ARG VERSION=1.2',
        'FROM ${BASE}',
        'ARG VERSION',
        'ARG BASE',
        'ENV LEGACY value with spaces',
        'COPY <<EOF /etc/app.conf',
        'version=${VERSION}',
        'EOF',
        'COPY <<"RAW" /raw.txt',
        'keep ${VERSION} literal',
        'RAW',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN echo "shell=$0 legacy=$LEGACY" > /shell.txt',
        `COPY --from=${'${BASE}'} /etc/passwd /from-image-passwd`,
      ].join('\n'),
    });
    const ref = await Container.fromDockerfile(ctx, { buildArgs: { BASE: fixtureRef('busybox') } });
    const seen = await inspect(ref, ['/etc/app.conf', '/raw.txt', '/shell.txt']);
    expect(seen).toEqual({
      '/etc/app.conf': '644 0:0 regular file\nversion=1.2',
      '/raw.txt': '644 0:0 regular file\nkeep ${VERSION} literal',
      '/shell.txt': '644 0:0 regular file\nshell=/bin/sh legacy=value with spaces',
    });
    expect((await inspect(ref, ['/from-image-passwd']))['/from-image-passwd']).toMatch(/^644 0:0 regular file\nroot:x:0:0:/);
  });

  it('ONBUILD: triggers are recorded, run when the image is a base (FROM image or stage), and not inherited', async () => {
    const ctx = await context({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nONBUILD COPY trigger.txt /from-trigger.txt\nONBUILD RUN echo ran > /trigger-ran\n`,
      'child.Dockerfile': 'ARG PARENT\nFROM ${PARENT} AS child\nRUN cat /trigger-ran > /seen\nFROM child\n',
      'trigger.txt': 'copied by the trigger\n',
    });
    const parent = await Container.fromDockerfile(ctx, { tag: 'slipway-test/onbuild:parent' });
    expect((await inspect(parent, ['/trigger-ran']))['/trigger-ran']).toBe('absent');
    const child = await Container.fromDockerfile(ctx, { dockerfile: 'child.Dockerfile', buildArgs: { PARENT: parent }, tag: 'slipway-test/onbuild:child' });
    expect(await inspect(child, ['/from-trigger.txt', '/seen'])).toEqual({
      '/from-trigger.txt': '644 0:0 regular file\ncopied by the trigger', '/seen': '644 0:0 regular file\nran',
    });
    const onBuild = async (ref: string): Promise<unknown> => (await configFile(ref)).config.OnBuild;
    expect(await onBuild(parent)).toEqual(['COPY trigger.txt /from-trigger.txt', 'RUN echo ran > /trigger-ran']);
    expect(await onBuild(child)).toBeUndefined();
  });

  nativeOnly("RUN --mount on the engine is Docker 20.10's BuildKit: a --no-cache build starts its cache mounts empty, and the mount points stay in the layer as empty directories (engine/engine-buildkit.test.ts)")('RUN --mount=type=cache keeps its directory across builds and out of the image; type=tmpfs too', async () => {
    const id = `t${Date.now()}${Math.random().toString(36).slice(2, 8)}`;
    const ctx = await context({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=cache,id=${id},target=/var/cache/deep/c --mount=type=tmpfs,target=/scratch ` +
        'n=$(cat /var/cache/deep/c/n 2>/dev/null || echo 0); echo $((n+1)) > /var/cache/deep/c/n; echo tmp > /scratch/x; cp /var/cache/deep/c/n /seen\n',
    });
    const first = await buildImage(ctx, { tag: 'slipway-test/mounts:1' });
    const second = await buildImage(ctx, { tag: 'slipway-test/mounts:2', cache: false });
    expect([first.executed, second.executed]).toEqual([1, 1]);
    expect(await inspect(first.ref, ['/seen', '/var/cache/deep', '/scratch'])).toEqual({ '/seen': '644 0:0 regular file\n1', '/var/cache/deep': 'absent', '/scratch': 'absent' });
    expect((await inspect(second.ref, ['/seen']))['/seen']).toBe('644 0:0 regular file\n2');
  });

  it('ADD extracts a local tar (plain or gzip) with its modes and owners (--chown wins); other files are copied; ../ entries are refused', async () => {
    const tarOf = async (entries: { name: string; type?: 'file' | 'directory' | 'symlink'; mode?: number; uid?: number; content?: string; linkname?: string }[]): Promise<Buffer> => {
      const p = tarPack();
      for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.uid ?? 0, linkname: e.linkname }, e.content ?? '');
      p.finalize();
      const chunks: Buffer[] = [];
      for await (const c of p) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const pkg = await tarOf([
      { name: 'pkg/', type: 'directory', mode: 0o750, uid: 1000 }, { name: 'pkg/bin/run', mode: 0o755, uid: 1000, content: 'run' },
      { name: 'pkg/link', type: 'symlink', linkname: 'bin/run' },
    ]);
    const ctx = await context({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nADD app.tar.gz /opt/\nADD --chown=5:6 plain.tar /o2\nADD notes.txt /notes.txt\n`,
      'notes.txt': 'not an archive\n',
    });
    await writeFile(join(ctx, 'app.tar.gz'), gzipSync(pkg));
    await writeFile(join(ctx, 'plain.tar'), pkg);
    const ref = await Container.fromDockerfile(ctx);
    expect(await inspect(ref, ['/opt/pkg', '/opt/pkg/bin/run', '/opt/pkg/link', '/o2/pkg/bin/run', '/notes.txt', '/opt/app.tar.gz'])).toEqual({
      '/opt/pkg': '750 1000:1000 directory', '/opt/pkg/bin/run': '755 1000:1000 regular file\nrun', '/opt/pkg/link': '777 0:0 symbolic link',
      // The engine's builders (Docker 20.10's BuildKit, and its classic builder) do not apply ADD --chown to what they extract from a tar (slipway's does).
      '/o2/pkg/bin/run': engineRuntime() ? '755 1000:1000 regular file\nrun' : '755 5:6 regular file\nrun', '/notes.txt': '644 0:0 regular file\nnot an archive', '/opt/app.tar.gz': 'absent',
    });
    const evil = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nADD evil.tar /x/\n` });
    await writeFile(join(evil, 'evil.tar'), await tarOf([{ name: '../../escape', content: 'x' }]));
    // dockerd's builders extract an ADD tar inside the destination (BuildKit's and the classic builder's alike): a ../
    // entry cannot leave it there, and the build goes on; slipway's builder refuses the archive.
    expect(await codeOf(Container.fromDockerfile(evil))).toBe(engineRuntime() ? 'resolved' : 'ERR_BUILD_CONTEXT');
  });

  it('cache: a second build reuses every step (same digest); one changed file re-runs from its step on; no cache runs all again, same digest', async () => {
    const ctx = await context({
      'Dockerfile': `FROM ${fixtureRef('busybox')}\nCOPY a.txt /a\nRUN cat /a > /a2\nCOPY b.txt /b\nRUN cat /b /a > /b2\n`,
      'a.txt': `a ${Math.random()}\n`, 'b.txt': 'b1\n',
    });
    const first = await buildImage(ctx, { tag: 'slipway-test/cache:1' });
    expect([first.executed, first.cached]).toEqual([4, 0]);
    const again = await buildImage(ctx, { tag: 'slipway-test/cache:1' });
    expect([again.executed, again.cached, again.digest]).toEqual([0, 4, first.digest]);
    await writeFile(join(ctx, 'b.txt'), 'b2\n');
    const changed = await buildImage(ctx, { tag: 'slipway-test/cache:2' });
    expect([changed.executed, changed.cached]).toEqual([2, 2]);
    expect((await inspect(changed.ref, ['/b2']))['/b2']).toMatch(/\nb2\na /);
    const fresh = await buildImage(ctx, { tag: 'slipway-test/cache:3', cache: false });
    expect(fresh.executed).toBe(4);
    // Reproducible natively (epoch timestamps); the engine's builder stamps each step with its time (Docker 20.10's BuildKit too).
    if (!engineRuntime()) expect(fresh.digest).toBe(changed.digest);
  });

  it('a failing RUN: its exit code and last output lines; nothing tagged, nothing left in the store\'s tmp', async () => {
    const ctx = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN echo first-line && echo boom-output >&2 && exit 3\n` });
    const err = await Container.fromDockerfile(ctx, { tag: 'slipway-test/fails:1' }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_BUILD_STEP_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/line 2: RUN echo first-line .* exited with code 3/);
    // The engine's builder relays a step's stdout and stderr as two streams: their order between them is not kept.
    expect((err as Error).message).toMatch(engineRuntime() ? /(first-line\nboom-output|boom-output\nfirst-line)/ : /first-line\nboom-output/);
    expect(await codeOf(pull('slipway-test/fails:1', { policy: 'never' }))).toBe('ERR_IMAGE_NOT_PRESENT');
    const leftovers = (await readdir(join(defaultStoreRoot(), 'tmp'))).filter((n) => n.includes(`-${process.pid}-`));
    expect(leftovers).toEqual([]);
  });

  it('attacker: COPY of ../x or through a symlink out of the context is refused; bad input is a clear error', async () => {
    const outside = await context({ 'secret': 'host secret\n' });
    const base = `FROM ${fixtureRef('busybox')}\n`;
    const dotdot = await context({ 'Dockerfile': `${base}COPY ../${outside.split('/').pop()}/secret /x\n` });
    expect(await codeOf(Container.fromDockerfile(dotdot))).toBe('ERR_BUILD_CONTEXT');
    const linkOut = await context({ 'Dockerfile': `${base}COPY link /x\n`, 'link': { link: join(outside, 'secret') } });
    expect(await codeOf(Container.fromDockerfile(linkOut))).toBe('ERR_BUILD_CONTEXT');
    const dirOut = await context({ 'Dockerfile': `${base}COPY d/secret /x\n`, 'd': { link: outside } });
    expect(await codeOf(Container.fromDockerfile(dirOut))).toBe('ERR_BUILD_CONTEXT');
    // A symlink inside a copied directory is copied as a symlink (never followed on the host).
    const inner = await context({ 'Dockerfile': `${base}COPY d /d\n`, 'd/l': { link: join(outside, 'secret') } });
    const ref = await Container.fromDockerfile(inner);
    expect((await inspect(ref, ['/d/l']))['/d/l']).toBe('777 0:0 symbolic link');
    expect(await codeOf(Container.fromDockerfile(inner, { target: 'nope' }))).toBe('ERR_BUILD');
    expect(await codeOf(Container.fromDockerfile(join(inner, 'missing')))).toBe('ERR_BUILD_CONTEXT');
    const missing = await context({ 'Dockerfile': `${base}COPY nothere /x\n` });
    expect(await codeOf(Container.fromDockerfile(missing))).toBe('ERR_BUILD_CONTEXT');
    const bad = await context({ 'Dockerfile': `${base}FOO bar\n` });
    expect(await codeOf(Container.fromDockerfile(bad))).toBe('ERR_DOCKERFILE_PARSE');
  });
});

/**
 * `RUN --mount=type=secret|bind|ssh` with BuildKit's semantics, root and rootless. The secret tests play the
 * attacker: they look for the secret's bytes in everything the build stored (layer tars, config, manifest, unpacked
 * layers, cache records) and in the private copies the build made.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/index.js';
import { pull } from '../../../src/image/index.js';
import { defaultStoreRoot, ImageStore } from '../../../src/image/store.js';
import { buildImage } from '../../../src/build/builder.js';
import { processStateDir } from '../../../src/runtime/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { codeOf, configFile, context, filesContaining, inspect } from './build-helpers.js';

/** Every file the store holds for an image: its manifest, config and layer blobs, and its unpacked layers. */
async function storedFilesOf(ref: string): Promise<string[]> {
  const store = new ImageStore(defaultStoreRoot());
  const img = await pull(ref, { policy: 'never' });
  const manifest = JSON.parse((await store.readBlob(img.manifestDigest))!.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  return [img.manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)].map((d) => store.blobPath(d));
}

async function leaks(ref: string, secret: string): Promise<string[]> {
  const needle = Buffer.from(secret);
  const hits: string[] = [];
  for (const f of await storedFilesOf(ref)) if ((await readFile(f)).includes(needle)) hits.push(f);
  for (const l of (await pull(ref, { policy: 'never' })).layers) hits.push(...(await filesContaining(l.dir!, needle)).hits);
  const refs = await filesContaining(join(defaultStoreRoot(), 'refs'), needle);
  expect(refs.read).toBeGreaterThan(0);
  hits.push(...refs.hits);
  return hits;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('RUN --mount', () => {
  describe('type=secret', () => {
    it('attacker: the secret is readable only during its RUN (file and env), with its mode and owner; it is in no blob, layer or cache record', async () => {
      const secret = `S3CRET-${Math.random().toString(36).slice(2)}-${Date.now()}`;
      const envSecret = `ENVSECRET-${Math.random().toString(36).slice(2)}`;
      const ctx = await context({
        'Dockerfile': [
          `FROM ${fixtureRef('busybox')}`,
          'RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d" " -f1 > /hash && stat -c "%a %u:%g" /run/secrets/tok > /st && (echo x > /run/secrets/tok) 2>/dev/null || echo ro > /ro',
          'RUN --mount=type=secret,id=tok,target=/etc/app/key,mode=0440,uid=1000,gid=1001 stat -c "%a %u:%g" /etc/app/key > /st2 && cp /etc/app/key /copied-by-user',
          'RUN --mount=type=secret,id=envtok,env=TOKEN printf %s "$TOKEN" | sha256sum | cut -d" " -f1 > /env-hash && (test -e /run/secrets/envtok || echo nofile > /env-nofile)',
          'RUN --mount=type=secret,id=not-given ls /run/secrets > /optional 2>&1 || echo skipped > /optional',
        ].join('\n'),
        'tok.txt': secret,
      });
      process.env.SLIPWAY_TEST_ENV_SECRET = envSecret;
      const secrets = { tok: { file: join(ctx, 'tok.txt') }, envtok: { env: 'SLIPWAY_TEST_ENV_SECRET' } };
      const tag = `slipway-test/secret:${Date.now()}`;
      const r = await buildImage(ctx, { tag, secrets, cache: false });
      expect(await inspect(r.ref, ['/hash', '/st', '/ro', '/st2', '/env-hash', '/env-nofile', '/optional', '/run/secrets', '/etc/app/key', '/etc/app'])).toEqual({
        '/hash': `644 0:0 regular file\n${sha(secret)}`, '/st': '644 0:0 regular file\n400 0:0', '/ro': '644 0:0 regular file\nro',
        '/st2': '644 0:0 regular file\n440 1000:1001', '/env-hash': `644 0:0 regular file\n${sha(envSecret)}`, '/env-nofile': '644 0:0 regular file\nnofile',
        '/optional': '644 0:0 regular file\nskipped', '/run/secrets': 'absent', '/etc/app/key': 'absent', '/etc/app': 'absent',
      });
      // The one place a RUN put it on purpose (cp into the image) proves the search finds it; nowhere else.
      const found = await leaks(r.ref, secret);
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((f) => f.endsWith('/copied-by-user') || /blobs\/sha256\//.test(f))).toBe(true);
      const withoutCopy = await context({
        'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=secret,id=tok --mount=type=secret,id=envtok,env=TOKEN cat /run/secrets/tok > /dev/null && echo "$TOKEN" > /dev/null && echo done > /done\n`,
      });
      const clean = await buildImage(withoutCopy, { tag: `${tag}-clean`, secrets, cache: false });
      expect(await leaks(clean.ref, secret)).toEqual([]);
      expect(await leaks(clean.ref, envSecret)).toEqual([]);
      expect(JSON.stringify(await configFile(clean.ref))).not.toContain(envSecret);
      // The private copies are gone once the build ends.
      expect(await readdir(join(await processStateDir(), 'build-mounts')).catch(() => [])).toEqual([]);
      // As in BuildKit, a changed secret does not invalidate the cache.
      await writeFile(join(ctx, 'tok.txt'), `${secret}-changed`);
      const again = await buildImage(withoutCopy, { tag: `${tag}-again`, secrets });
      expect([again.executed, again.digest]).toEqual([0, clean.digest]);
    });

    it('a required secret that was not given is a clear error; bad options are refused', async () => {
      const ctx = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=secret,id=npmrc,required=true true\n` });
      const err = await buildImage(ctx, {}).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_BUILD')).toBe(true);
      expect((err as SlipwayError).message).toMatch(/line 2 .*the secret "npmrc" is required but was not given/);
      expect((err as SlipwayError).hint).toMatch(/--secret id=npmrc/);
      const missingFile = await buildImage(ctx, { secrets: { npmrc: { file: join(ctx, 'absent') } } }).catch((e: unknown) => e);
      expect((missingFile as Error).message).toMatch(/file .*absent is absent/);
      const badMode = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=secret,id=a,mode=rw true\n` });
      expect(await codeOf(buildImage(badMode, { secrets: { a: { env: 'PATH' } } }))).toBe('ERR_BUILD');
    });
  });

  describe('type=bind', () => {
    it('from the context (after .dockerignore), a stage or a file; read-only unless rw, whose writes are dropped; its content is in the cache key', async () => {
      const nonce = Math.random().toString(36).slice(2);
      const ctx = await context({
        'Dockerfile': [
          `FROM ${fixtureRef('busybox')} AS tools`,
          `RUN mkdir -p /opt/t && echo tool > /opt/t/x # ${nonce}`,
          `FROM ${fixtureRef('busybox')}`,
          'RUN --mount=type=bind,target=/ctx cat /ctx/src/a.txt > /a && (test -e /ctx/ignored.txt && echo seen > /ign || echo none > /ign) && ((touch /ctx/w 2>/dev/null && echo rw > /ro) || echo ro > /ro)',
          'RUN --mount=type=bind,source=src,target=/s,rw echo changed > /s/a.txt && cat /s/a.txt > /rw-seen && stat -c %a /s/run.sh > /mode',
          'RUN --mount=type=bind,from=tools,source=/opt/t,target=/t cat /t/x > /tool',
          'RUN --mount=type=bind,source=src/a.txt,target=/one.txt cat /one.txt > /one',
        ].join('\n'),
        '.dockerignore': 'ignored.txt\n',
        'ignored.txt': 'ignored\n',
        'nonce': nonce,
        'src/a.txt': 'a1\n',
        'src/run.sh': { content: '#!/bin/sh\n', mode: 0o750 },
      });
      const tag = `slipway-test/bind:${Date.now()}`;
      const first = await buildImage(ctx, { tag });
      expect(await inspect(first.ref, ['/a', '/ign', '/ro', '/rw-seen', '/mode', '/tool', '/one', '/ctx', '/s', '/t', '/one.txt'])).toEqual({
        '/a': '644 0:0 regular file\na1', '/ign': '644 0:0 regular file\nnone', '/ro': '644 0:0 regular file\nro',
        '/rw-seen': '644 0:0 regular file\nchanged', '/mode': '644 0:0 regular file\n750', '/tool': '644 0:0 regular file\ntool',
        '/one': '644 0:0 regular file\na1', '/ctx': 'absent', '/s': 'absent', '/t': 'absent', '/one.txt': 'absent',
      });
      expect(await readFile(join(ctx, 'src/a.txt'), 'utf8')).toBe('a1\n');
      const again = await buildImage(ctx, { tag });
      expect([again.executed, again.digest]).toEqual([0, first.digest]);
      // A change to a mounted file re-runs the first step that mounts it and those after it; the tools stage is cached.
      await writeFile(join(ctx, 'src/a.txt'), 'a2\n');
      const changed = await buildImage(ctx, { tag: `${tag}-2` });
      expect([changed.executed, changed.cached]).toEqual([4, 1]);
      expect((await inspect(changed.ref, ['/one']))['/one']).toBe('644 0:0 regular file\na2');
    });

    it('a source outside the context or absent is refused; type=ssh is refused clearly', async () => {
      const out = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=bind,source=../x,target=/x true\n` });
      expect(await codeOf(buildImage(out))).toBe('ERR_BUILD_CONTEXT');
      const absent = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=bind,source=nothere,target=/x true\n` });
      expect(await codeOf(buildImage(absent))).toBe('ERR_BUILD_CONTEXT');
      const ssh = await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nRUN --mount=type=ssh git clone git@example.invalid:x/y\n` });
      const err = await buildImage(ssh).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_UNSUPPORTED')).toBe(true);
      expect((err as Error).message).toMatch(/line 2 .*type=ssh is not supported/);
    });
  });
});

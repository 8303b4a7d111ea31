// Builds on Docker that need BuildKit (RUN --mount, COPY --chmod, build secrets): slipway sends them to the engine's
// BuildKit (`POST /build?version=2`), decodes its progress, and serves secrets through a session (`POST /session`
// upgraded to h2c, gRPC served by us). The secret tests play the attacker: they look for the secret's bytes in
// everything the engine keeps of the image (docker save: layers and config; history; inspect) and in BuildKit's own
// state (/var/lib/docker/buildkit: its cache records).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, SlipwayError, type BuildProgress } from '../../../src/index.js';
import { buildImage } from '../../../src/build/builder.js';
import { fixtureRef, skipUnless } from '../harness/index.js';
import { buildScratch, engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
const { tree, images } = buildScratch('slipway-engine-buildkit-');
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const run = async (ref: string, script: string): Promise<string> => (await new Container(ref).withCommand(['sh', '-c', script]).run()).stdout;

/** Where the engine keeps `needle` for an image: its saved tar (layers, config), history, inspect, BuildKit's state. */
function engineLeaks(ref: string, needle: string): string[] {
  const hits: string[] = [];
  const saved = execFileSync('docker', ['save', ref], { maxBuffer: 512 << 20 });
  expect(saved.length).toBeGreaterThan(100_000);
  if (saved.includes(needle)) hits.push('docker save');
  if (docker('history', '--no-trunc', ref).includes(needle)) hits.push('docker history');
  if (docker('image', 'inspect', ref).includes(needle)) hits.push('docker inspect');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 256 << 20 && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk('/var/lib/docker/buildkit');
  return hits;
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: BuildKit', () => {
  it('attacker: RUN --mount=type=secret gets the secret from a session; it is in no layer, history, config or BuildKit record', async () => {
    const secret = `S3CRET-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    const ctx = tree({
      'Dockerfile': [
        `FROM ${fixtureRef('busybox')}`,
        'RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d" " -f1 > /hash && stat -c "%a %u:%g" /run/secrets/tok > /st && ((echo x > /run/secrets/tok) 2>/dev/null || echo ro > /ro)',
        'RUN --mount=type=secret,id=tok,target=/etc/app/key,mode=0440,uid=1000,gid=1001 stat -c "%a %u:%g" /etc/app/key > /st2 && cp /etc/app/key /copied-by-user',
        'RUN --mount=type=secret,id=not-given (test -e /run/secrets/not-given && echo mounted || echo skipped) > /optional',
      ].join('\n'),
    });
    const secretFile = join(tree({ tok: secret }), 'tok');
    const tag = `localhost/slipway-buildkit-${process.pid}:secret`;
    images.push(tag);
    const ref = await Container.fromDockerfile(ctx, { tag, secrets: { tok: { file: secretFile } }, cache: false });
    // Docker 20.10's BuildKit leaves the mount points in the layer as empty directories (natively they are absent).
    expect(await run(ref, 'cat /hash /st /ro /st2 /optional; find /run/secrets /etc/app ! -type d 2>/dev/null | wc -l')).toBe(`${sha(secret)}\n400 0:0\nro\n440 1000:1001\nskipped\n0\n`);
    // The one place a RUN put it on purpose (cp into the image) proves the search finds it.
    expect(engineLeaks(ref, secret)).toEqual(['docker save']);
    const clean = tree({ Dockerfile: `FROM ${fixtureRef('busybox')}\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && echo done > /done\n` });
    const cleanTag = `localhost/slipway-buildkit-${process.pid}:clean`;
    images.push(cleanTag);
    const cleanRef = await Container.fromDockerfile(clean, { tag: cleanTag, secrets: { tok: { file: secretFile } }, cache: false });
    expect(await run(cleanRef, 'cat /done')).toBe('done\n');
    expect(engineLeaks(cleanRef, secret)).toEqual([]);
    // As natively (and in BuildKit), a changed secret does not invalidate the cache.
    writeFileSync(secretFile, `${secret}-changed`);
    const again = await buildImage(clean, { tag: cleanTag, secrets: { tok: { file: secretFile } } });
    expect(again.executed).toBe(0);
  }, 240_000);

  it('a required secret that was not given fails the build naming it', async () => {
    const ctx = tree({ Dockerfile: `FROM ${fixtureRef('busybox')}\nRUN --mount=type=secret,id=npmrc,required=true true\n` });
    const err = await Container.fromDockerfile(ctx, { secrets: { other: { env: 'PATH' } }, cache: false }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_BUILD'), String(err)).toBe(true);
    expect((err as SlipwayError).message).toMatch(/Dockerfile line 2 .*npmrc/);
  }, 120_000);

  it('RUN --mount=type=cache, COPY --chmod and FROM --platform=$BUILDPLATFORM build with BuildKit; steps and output are progress events; a failed RUN is ERR_BUILD_STEP_FAILED with its output', async () => {
    const nonce = Math.random().toString(36).slice(2);
    const ctx = tree({
      'Dockerfile': [
        `FROM --platform=$BUILDPLATFORM ${fixtureRef('busybox')} AS base`,
        'COPY --chmod=0750 run.sh /run.sh',
        'ARG RUN_ID',
        `RUN --mount=type=cache,id=slipway-${nonce},target=/cache echo ${nonce} >> /cache/runs && cp /cache/runs /runs && echo "said on stderr $RUN_ID" >&2`,
        'ENV DONE=1',
      ].join('\n'),
      'run.sh': `#!/bin/sh\n# ${nonce}\n`,
    });
    const events: BuildProgress[] = [];
    const first = await buildImage(ctx, { buildArgs: { RUN_ID: `1-${nonce}` }, onProgress: (e) => events.push(e) });
    images.push(first.ref);
    expect(await run(first.ref, 'stat -c %a /run.sh; cat /runs')).toBe(`750\n${nonce}\n`);
    expect(events).toContainEqual(expect.objectContaining({ type: 'step', stage: 'base', step: 2, total: 5, cached: false, instruction: 'COPY --chmod=0750 run.sh /run.sh' }));
    expect(events).toContainEqual({ type: 'output', stage: 'base', step: 4, line: `said on stderr 1-${nonce}`, stream: 'stderr' });
    expect(events).toContainEqual(expect.objectContaining({ type: 'done', stage: 'base', step: 4 }));
    expect(first.executed).toBeGreaterThanOrEqual(2);
    // The cache mount outlives the build (BuildKit keeps it by id); its content is not in the image.
    const second = await buildImage(ctx, { buildArgs: { RUN_ID: `2-${nonce}` } });
    images.push(second.ref);
    expect(await run(second.ref, 'cat /runs')).toBe(`${nonce}\n${nonce}\n`);
    const failing = tree({ Dockerfile: `FROM ${fixtureRef('busybox')}\nRUN --mount=type=cache,target=/c echo "the step says why" && echo "and on stderr" >&2 && exit 3\n` });
    const err = await Container.fromDockerfile(failing, { cache: false }).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_BUILD_STEP_FAILED'), String(err)).toBe(true);
    expect((err as SlipwayError).message).toMatch(/Dockerfile line 2: RUN --mount=type=cache,target=\/c echo .* exited with code 3/);
    expect((err as SlipwayError).message).toContain('the step says why');
    expect((err as SlipwayError).message).toContain('and on stderr');
  }, 240_000);
});

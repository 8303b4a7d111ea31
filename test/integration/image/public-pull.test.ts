/**
 * `pull()` from the main entry (as the README documents it): pre-pulls into the store start() uses, under the same id
 * mapping (rootless: the keeper's subordinate ids), so a container then starts with policy `never`. Policy never and
 * an aborted signal on either runtime (on an engine the abort was ERR_REGISTRY "This operation was aborted").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import createDebug from 'debug';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Container, pull, SlipwayError, type PullProgress } from '../../../src/index.js';
import { fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const store = mkdtempSync(join(tmpdir(), 'slipway-public-pull-'));
const saved = process.env.SLIPWAY_CACHE_DIR;
beforeAll(() => { process.env.SLIPWAY_CACHE_DIR = store; });
afterAll(() => {
  if (saved === undefined) delete process.env.SLIPWAY_CACHE_DIR;
  else process.env.SLIPWAY_CACHE_DIR = saved;
  rmSync(store, { recursive: true, force: true });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'starts containers: needs the built helper and user namespaces')('pull() from slipway', () => {
  nativeOnly('pull() fills slipway\'s store under the keeper\'s id mapping; on an engine it is the engine\'s store, its progress and policies in engine/engine-pull.test.ts')('pulls with progress into the store start() uses, which then starts the image with policy never', async () => {
    const events: PullProgress[] = [];
    const img = await pull(fixtureRef('busybox'), { onProgress: (p) => events.push(p), signal: new AbortController().signal, policy: 'always' });
    expect(img).toMatchObject({ ref: fixtureRef('busybox'), source: 'registry', platform: { os: 'linux' } });
    expect(img.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(img.layers.length).toBeGreaterThan(0);
    for (const l of img.layers) expect(events.some((e) => e.layer === l.digest && e.current === l.size)).toBe(true);

    const again = await pull(fixtureRef('busybox'));
    expect(again.source).toBe('cache');
    const r = await new Container(fixtureRef('busybox')).withPullPolicy('never').withCommand(['sh', '-c', 'echo started; stat -c %u:%g /bin/busybox']).run();
    expect(r).toMatchObject({ exitCode: 0, stdout: 'started\n0:0\n' });
  });

  it('reads the settings once per pull (twice before, each a reading of ~8 files)', async () => {
    await pull(fixtureRef('busybox'));
    const saved = { log: createDebug.log, namespaces: createDebug.disable() };
    const reads: string[] = [];
    createDebug.enable('slipway:config');
    createDebug.log = (...args: unknown[]) => { reads.push(format(...args)); };
    try {
      await pull(fixtureRef('busybox'));
    } finally {
      createDebug.log = saved.log;
      createDebug.enable(saved.namespaces);
    }
    expect(reads.filter((r) => / read /.test(r))).toHaveLength(1);
  });

  it('honours policy never and an aborted signal', async () => {
    const absent = await pull(`${fixtureRef('busybox').replace(/:latest$/, '')}:1`, { policy: 'never' }).then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(absent, 'ERR_IMAGE_NOT_PRESENT'), String(absent)).toBe(true);
    const ac = new AbortController();
    ac.abort();
    const aborted = await pull(fixtureRef('redis'), { signal: ac.signal, policy: 'always' }).then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(aborted, 'ERR_ABORTED'), String(aborted)).toBe(true);
  });
});

import { afterAll, expect, it, vi } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pull } from '../../../src/image/pull.js';
import { fixtureRef, isRoot, testUnless } from '../harness/index.js';
import { busyboxRootfs, runToExit, skipReason, specFor } from './fixture.js';

const keepers: Keeper[] = [];
afterAll(async () => { for (const k of keepers) await k.close(); });

// Rootless without a subordinate range (here: forced by pointing at empty files) is the last-resort mapping.
testUnless(!isRoot() && !skipReason(), 'the single-id fallback is a rootless path: checked when the suite runs as an unprivileged user')(
  'without a subuid range the keeper maps one id, warns once naming what breaks, runs root images and explains a user switch failure',
  async () => {
    busyboxRootfs();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const keeper = await Keeper.start({ mapping: { subuidFile: '/dev/null', subgidFile: '/dev/null' } });
    keepers.push(keeper);
    expect(keeper.mapping.kind).toBe('single');
    expect(keeper.mappingKey).toBe(`single-${process.getuid!()}-${process.getgid!()}`);
    expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/single-id user namespace mapping.*non-root user, will fail\. Fix: .*usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \$USER/);
    warn.mockRestore();

    const asRoot = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', 'id -u; cat /proc/self/uid_map']));
    expect(asRoot.exit.exitCode).toBe(0);
    expect(asRoot.stdout.split('\n')[0]).toBe('0');

    const spec = specFor(keeper, ['/bin/true'], { uid: 1000, gid: 1000 });
    await keeper.createContainer(spec);
    const err = await keeper.startContainer(spec.id).then(() => undefined, (e: unknown) => e);
    await keeper.removeContainer(spec.id);
    expect(SlipwayError.is(err)).toBe(true);
    expect((err as SlipwayError).hint).toMatch(/not mapped in the user namespace.*\/etc\/subuid/);
  },
);

testUnless(!isRoot() && !skipReason(), 'the single-id fallback is a rootless path: checked when the suite runs as an unprivileged user')(
  'without a subuid range, an image with files of other owners fails with what is wrong and the usermod fix (before: chown …: EINVAL)',
  async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const keeper = await Keeper.start({ mapping: { subuidFile: '/dev/null', subgidFile: '/dev/null' } });
    keepers.push(keeper);
    warn.mockRestore();
    const store = mkdtempSync(join(tmpdir(), 'slipway-single-store-'));
    try {
      const err = await pull(fixtureRef('redis'), {
        storeDir: store, mappingKey: keeper.mappingKey, applyOwnership: (dir, list) => keeper.chownList(dir, list), removeTree: (p) => keeper.rmtree(p),
      }).then(() => undefined, (e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_RUNTIME_UNAVAILABLE'), String(err)).toBe(true);
      expect((err as SlipwayError).shortMessage).toMatch(/^rootless slipway has only a single-id user namespace \(no range for .* in \/dev\/null.*\), and this image has files of other owners \(.* belongs to \d+:\d+\)/);
      expect((err as SlipwayError).hint).toContain('`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`');
    } finally {
      await keeper.rmtree(store).catch(() => {});
      rmSync(store, { recursive: true, force: true });
    }
  },
);

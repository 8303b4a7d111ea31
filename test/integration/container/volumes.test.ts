import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, Volume } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('named volumes', () => {
  it('outlive a container and are shared by name within the process, owned as the container wrote them', async () => {
    await new Container(fixtureRef('busybox')).withVolume('shared', '/data')
      .withCommand(['sh', '-c', 'echo persisted > /data/file && mkdir /data/sub && chown nobody /data/sub']).run();
    const r = await new Container(fixtureRef('busybox')).withVolume(Volume.named('shared'), '/mnt', { readonly: true })
      .withCommand(['sh', '-c', 'cat /mnt/file; stat -c %U /mnt/sub; touch /mnt/x 2>/dev/null && echo rw || echo ro']).run();
    expect(r.stdout).toBe('persisted\nnobody\nro\n');
    const path = await Volume.named('shared').hostPath();
    expect(path.startsWith((await Keeper.get()).stateDir)).toBe(true); // goes with the keeper at exit
    await Volume.named('shared').remove();
    expect(existsSync(path)).toBe(false);
  });

  nativeOnly('an engine keeps volumes in the engine, not under slipway\'s store')('a kept volume lives under the store until removed', async () => {
    process.env.SLIPWAY_VOLUMES_DIR = mkdtempSync(join(tmpdir(), 'slipway-volumes-'));
    try {
      const v = Volume.named('kept-one', { keep: true });
      await new Container(fixtureRef('busybox')).withVolume(v, '/v').withCommand(['sh', '-c', 'echo x > /v/f']).run();
      expect(await v.hostPath()).toBe(join(process.env.SLIPWAY_VOLUMES_DIR, 'kept-one'));
      expect(existsSync(join(await v.hostPath(), 'f'))).toBe(true);
      expect(() => Volume.named('kept-one', { keep: false })).toThrow(/keep/);
      await v.remove();
      expect(existsSync(join(process.env.SLIPWAY_VOLUMES_DIR, 'kept-one'))).toBe(false);
    } finally {
      delete process.env.SLIPWAY_VOLUMES_DIR;
    }
  });
});

import { describe, expect, it } from 'vitest';
import { EngineHttpError } from '../../../src/engine/client.js';
import { createWithEngineInit, engineLacksInit } from '../../../src/runtime/engine/engine-init.js';
import { engineCreateBody } from '../../../src/runtime/engine/engine-launch.js';

// What Debian's Podman 4.3 answers to a create with Init: true when catatonit is not installed (seen as slipway-test).
const podmanNoInit = (): EngineHttpError => new EngineHttpError(500, 'engine POST /containers/create: 500 container-init binary not found on the host: stat /usr/libexec/podman/catatonit: no such file or directory');

/** A fake engine's create: refuses Init when it has no init binary, records what it was asked. */
function fakeEngine(hasInit: boolean): { asked: boolean[]; create: (init: boolean) => Promise<{ Id: string }> } {
  const asked: boolean[] = [];
  return {
    asked,
    create: async (init) => {
      asked.push(init);
      if (init && !hasInit) throw podmanNoInit();
      return { Id: `c${asked.length}` };
    },
  };
}

describe('the engine init (HostConfig.Init)', () => {
  it('is asked for by default', () => {
    const body = engineCreateBody({ image: 'x', env: {}, ports: [], mounts: [], networks: [], extraHosts: {}, ulimits: {}, capAdd: [], capDrop: [], networkMode: 'isolated' } as never, 'x', {}, 's');
    expect((body.HostConfig as { Init: boolean }).Init).toBe(true);
  });

  it('on an engine without one: the first create is retried without it, later creates skip it, and one warning says why and what to install', async () => {
    const engine = fakeEngine(false);
    const warnings: string[] = [];
    const warn = (t: string): void => { warnings.push(t); };
    expect(await createWithEngineInit('no-init-session', engine.create, warn)).toEqual({ Id: 'c2' });
    expect(await createWithEngineInit('no-init-session', engine.create, warn)).toEqual({ Id: 'c3' });
    expect(engine.asked).toEqual([true, false, false]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no init binary.*catatonit/);
  });

  it('on an engine with one: Init stays on; other refusals are not retried', async () => {
    const engine = fakeEngine(true);
    expect(await createWithEngineInit('init-session', engine.create, () => {})).toEqual({ Id: 'c1' });
    expect(engine.asked).toEqual([true]);
    const refused = new EngineHttpError(500, 'engine POST /containers/create: 500 no such image');
    let calls = 0;
    await expect(createWithEngineInit('other-session', async () => { calls++; throw refused; }, () => {})).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(engineLacksInit(refused)).toBe(false);
    expect(engineLacksInit(podmanNoInit())).toBe(true);
    expect(engineLacksInit(new Error('container-init binary not found'))).toBe(false); // not an engine answer
  });
});

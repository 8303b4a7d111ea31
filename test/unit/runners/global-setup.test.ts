// The runner helpers' teardown guarantees, with fake resources (no containers): reverse order, every
// teardown tried, and a failing setup step removing what earlier steps started.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineGlobalSetup as vitestSetup, containerFixture } from '../../../src/vitest.js';
import { defineGlobalSetup as jestSetup, globalTeardown, inject, useContainer } from '../../../src/jest.js';
import { SlipwayError } from '../../../src/errors.js';

function fakeResource(name: string, log: string[], opts: { failStop?: boolean; dispose?: boolean } = {}) {
  const stop = async (): Promise<void> => {
    log.push(`stop ${name}`);
    if (opts.failStop) throw new Error(`${name} would not stop`);
  };
  return opts.dispose ? { [Symbol.asyncDispose]: stop, stop: async () => { log.push(`wrong ${name}`); } } : { stop };
}

const project = () => {
  const provided: Record<string, unknown> = {};
  return { provided, provide: (k: string, v: unknown) => { provided[k] = v; } } as unknown as Parameters<ReturnType<typeof vitestSetup>>[0] & { provided: Record<string, unknown> };
};

afterEach(() => {
  delete process.env.SLIPWAY_RUN_PID;
  vi.restoreAllMocks();
});

describe('slipway/vitest defineGlobalSetup', () => {
  it('marks the run root, provides values and tears down in reverse order ([Symbol.asyncDispose] first)', async () => {
    const log: string[] = [];
    const p = project();
    const teardown = await vitestSetup(async ({ use, provide, onTeardown }) => {
      await use(Promise.resolve(fakeResource('db', log, { dispose: true })));
      onTeardown(() => log.push('custom'));
      await use(fakeResource('cache', log));
      provide('databaseUrl' as never, 'postgres://x' as never);
    })(p);
    expect(process.env.SLIPWAY_RUN_PID).toMatch(new RegExp(`^${process.pid}:\\d+$`));
    expect(p.provided).toEqual({ databaseUrl: 'postgres://x' });
    expect(log).toEqual([]);
    await teardown();
    expect(log).toEqual(['stop cache', 'custom', 'stop db']);
  });

  it('a failing later step removes what earlier steps started, and the step\'s error reaches vitest', async () => {
    const log: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const setup = vitestSetup(async ({ use }) => {
      await use(fakeResource('first', log, { failStop: true }));
      await use(fakeResource('second', log));
      await use(Promise.reject(new Error('third would not start')));
    });
    await expect(setup(project())).rejects.toThrow('third would not start');
    expect(log).toEqual(['stop second', 'stop first']);
  });

  it('every teardown is tried; the failure is an ERR_RUNTIME SlipwayError with the first cause', async () => {
    const log: string[] = [];
    const teardown = await vitestSetup(async ({ use }) => {
      await use(fakeResource('a', log));
      await use(fakeResource('b', log, { failStop: true }));
    })(project());
    const err = await teardown().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlipwayError);
    expect((err as SlipwayError).code).toBe('ERR_RUNTIME');
    expect(((err as SlipwayError).cause as Error).message).toBe('b would not stop');
    expect(log).toEqual(['stop b', 'stop a']);
  });

  it('containerFixture removes its resource after the file, also when a test failed', async () => {
    const log: string[] = [];
    const [fixture, options] = containerFixture(async () => fakeResource('box', log));
    expect(options).toEqual({ scope: 'file' });
    // vitest reads the fixture's first parameter from its source: it must be an object pattern.
    expect(fixture.toString()).toMatch(/^async \(\{\s*\}/);
    await expect(fixture({}, async () => { throw new Error('test failed'); })).rejects.toThrow('test failed');
    expect(log).toEqual(['stop box']);
  });
});

describe('slipway/jest', () => {
  it('defineGlobalSetup keeps what it started for globalTeardown; a failed step tears down first', async () => {
    const log: string[] = [];
    await jestSetup(async ({ use }) => { await use(fakeResource('redis', log)); })();
    expect(log).toEqual([]);
    await globalTeardown();
    expect(log).toEqual(['stop redis']);
    await globalTeardown(); // nothing left: a no-op

    vi.spyOn(console, 'warn').mockImplementation(() => {});
    await expect(jestSetup(async ({ use }) => {
      await use(fakeResource('pg', log));
      throw new Error('migration failed');
    })()).rejects.toThrow('migration failed');
    expect(log).toEqual(['stop redis', 'stop pg']);
  });

  it('provide refuses undefined; inject names what was provided when a key is missing', async () => {
    await expect(jestSetup(({ provide }) => provide('x', undefined))()).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(() => inject('nope')).toThrow(/no such value \(none\)/);
  });

  it('useContainer needs jest\'s hooks', () => {
    expect(() => useContainer(async () => fakeResource('x', []))).toThrow(/beforeAll\/afterAll/);
  });
});

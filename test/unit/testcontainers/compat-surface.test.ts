// Names testcontainers-node's suite and users import from 'testcontainers' that slipway/testcontainers must have.
import { describe, expect, it } from 'vitest';
import * as tc from '../../../src/testcontainers.js';

describe('slipway/testcontainers surface', () => {
  it('exports the wait strategy classes, the same ones Wait makes', () => {
    expect(tc.Wait.forHttp('/', 80)).toBeInstanceOf(tc.HttpWaitStrategy);
    expect(new tc.HttpWaitStrategy('/hello-world', 8080, {}).withStartupTimeout(5)).toBeInstanceOf(tc.AbstractWaitStrategy);
    expect(tc.Wait.forListeningPorts()).toBeInstanceOf(tc.HostPortWaitStrategy);
    expect(tc.Wait.forLogMessage('x')).toBeInstanceOf(tc.LogWaitStrategy);
    expect(tc.Wait.forSuccessfulCommand('true')).toBeInstanceOf(tc.ShellWaitStrategy);
    expect(tc.Wait.forHealthCheck()).toBeInstanceOf(tc.HealthCheckWaitStrategy);
    expect(tc.Wait.forOneShotStartup()).toBeInstanceOf(tc.OneShotStartupWaitStrategy);
    expect(tc.Wait.forAll([])).toBeInstanceOf(tc.CompositeWaitStrategy);
  });
});

describe('module authors\' utilities', () => {
  it('AbstractStoppedContainer is a StoppedTestContainer forwarding to the one it wraps', async () => {
    const { Readable } = await import('node:stream');
    const asked: string[] = [];
    const inner = { id: 'c0ffee', copyFrom: async (p: string) => { asked.push(p); return Readable.from(['tar']); } };
    const stopped = new tc.StoppedTestContainer(inner as unknown as import('../../../src/api/started-container.js').StartedContainer);
    class StoppedMine extends tc.AbstractStoppedContainer {
      wrapped(): tc.StoppedTestContainer { return this.stoppedTestContainer; }
    }
    const mine: tc.StoppedTestContainer = new StoppedMine(stopped);
    expect(mine).toBeInstanceOf(tc.StoppedTestContainer);
    expect(mine.getId()).toBe('c0ffee');
    const chunks: unknown[] = [];
    for await (const c of await mine.copyArchiveFromContainer('/out')) chunks.push(c);
    expect(chunks.map(String)).toEqual(['tar']);
    expect(asked).toEqual(['/out']);
    expect((mine as StoppedMine).wrapped()).toBe(stopped);
  });

  it('IntervalRetry retries until the predicate accepts, or returns onTimeout()', async () => {
    let calls = 0;
    const attempts: number[] = [];
    const retry = new tc.IntervalRetry<number, string>(1);
    expect(await retry.retryUntil(async (a) => { attempts.push(a); return ++calls; }, (n) => n === 3, () => 'timeout', 60_000)).toBe(3);
    expect(attempts).toEqual([0, 1, 2]);
    expect(await retry.retryUntil(async () => 0, () => false, () => 'timeout', 0)).toBe('timeout');
    await expect(retry.retryUntil(async () => { throw new Error('boom'); }, () => true, () => 'timeout', 60_000)).rejects.toThrow('boom');
  });
});

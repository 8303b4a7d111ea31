import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Container } from '../../../src/api/container.js';
import { SlipwayError } from '../../../src/errors.js';

/** The ERR_INVALID_ARGUMENT `fn` throws (failing the test when it throws nothing or something else). */
function rejection(fn: () => unknown): SlipwayError {
  try { fn(); } catch (e) {
    if (SlipwayError.is(e, 'ERR_INVALID_ARGUMENT')) return e;
    throw e;
  }
  throw new Error('expected ERR_INVALID_ARGUMENT, nothing was thrown');
}

const c = new Container('busybox');

describe('builder validation names the option, the value and the allowed range', () => {
  it('withPids: init counts, so at least 2', () => {
    const e = rejection(() => c.withPids(1));
    expect(e.message).toMatch(/invalid pids: 1.*at least 2.*init/);
    expect(c.withPids(2).options.pids).toBe(2);
    rejection(() => c.withPids(2.5));
    rejection(() => c.withPids(Number.POSITIVE_INFINITY));
  });

  it('withStopSignal: only signals that exist, by name or number', () => {
    expect(rejection(() => c.withStopSignal('SIGFOO')).message).toMatch(/invalid stop signal: "SIGFOO".*SIGTERM/);
    rejection(() => c.withStopSignal('TERM+1'));
    rejection(() => c.withStopSignal('99'));
    expect(c.withStopSignal('term').options.stopSignal).toBe('SIGTERM');
    expect(c.withStopSignal('SIGQUIT').options.stopSignal).toBe('SIGQUIT');
    expect(c.withStopSignal(2).options.stopSignal).toBe('SIGINT');
  });

  it('withCpus: from 0.01 to the CPUs of this host, finite', () => {
    const host = availableParallelism();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, host + 1, '1e9', 'Infinity']) {
      expect(rejection(() => c.withCpus(bad)).hint).toMatch(new RegExp(`at most ${host}`));
    }
    expect(c.withCpus(host).options.cpus).toBe(host);
    expect(c.withCpus('0.5').options.cpus).toBe(0.5);
  });

  it('withMemory and withMemorySwap: at least 6m', () => {
    expect(rejection(() => c.withMemory('4k')).hint).toMatch(/at least 6m/);
    rejection(() => c.withMemory(5 * 1024 * 1024));
    rejection(() => c.withMemorySwap('1m'));
    expect(c.withMemory('6m').options.memory).toBe(6 * 1024 * 1024);
    expect(c.withMemorySwap(-1).options.memorySwap).toBe(-1);
    expect(c.withShmSize('4k').options.shmSize).toBe(4096); // not a memory limit: no floor
  });

  it('expose hostIp: a real address', () => {
    for (const bad of ['300.1.2.3', '1.2.3', '::::', 'localhost', '127.0.0.1 ']) {
      expect(rejection(() => c.expose({ container: 80, hostIp: bad })).message).toMatch(/invalid hostIp/);
    }
    expect(c.expose({ container: 80, hostIp: '0.0.0.0' }).options.ports[0]!.hostIp).toBe('0.0.0.0');
    expect(c.expose({ container: 80, hostIp: '::1' }).options.ports[0]!.hostIp).toBe('::1');
  });

  it('withExtraHosts: real addresses', () => {
    for (const bad of ['999.1.1.1', ':::::', '10.0.2', 'host']) {
      expect(rejection(() => c.withExtraHosts({ 'api.test': bad })).message).toMatch(/invalid extra host api.test/);
    }
    expect(c.withExtraHosts({ 'api.test': 'fd00::1', 'b.test': '10.0.2.2' }).options.extraHosts).toEqual({ 'api.test': 'fd00::1', 'b.test': '10.0.2.2' });
  });
});

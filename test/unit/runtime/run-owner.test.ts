import { describe, expect, it } from 'vitest';
import { markRunRoot, processStartTime, runOwners } from '../../../src/runtime/keeper/run-owner.js';

const self = { pid: process.pid, ppid: process.ppid, channel: undefined };
const forked = { pid: 999_999_999, ppid: process.pid, channel: {} as NodeJS.Process['channel'] };

describe('runOwners: what a keeper watches besides its Node process', () => {
  it('nothing in a plain process', () => {
    expect(runOwners({}, self, true)).toEqual([]);
  });

  it('SLIPWAY_RUN_PID as given, but not when it names this process', () => {
    expect(runOwners({ SLIPWAY_RUN_PID: '1234:5678' }, self, true)).toEqual(['1234:5678']);
    expect(runOwners({ SLIPWAY_RUN_PID: String(process.pid) }, self, true)).toEqual([]);
    expect(runOwners({ SLIPWAY_RUN_PID: '12; rm -rf /' }, self, true)).toEqual([]);
  });

  it("a forked vitest or jest worker watches its parent (with the parent's start time), once", () => {
    const start = processStartTime(process.pid);
    expect(start).toMatch(/^\d+$/);
    for (const env of [{ VITEST_POOL_ID: '1' }, { TINYPOOL_WORKER_ID: '1' }, { JEST_WORKER_ID: '2' }]) {
      expect(runOwners(env, forked, true)).toEqual([`${process.pid}:${start}`]);
    }
    expect(runOwners({ JEST_WORKER_ID: '2', SLIPWAY_RUN_PID: String(process.pid) }, forked, true)).toEqual([String(process.pid)]);
  });

  it('not without an IPC channel (jest --runInBand), nor in a worker thread, nor without a runner tag', () => {
    expect(runOwners({ JEST_WORKER_ID: '1' }, { ...forked, channel: undefined }, true)).toEqual([]);
    expect(runOwners({ VITEST_POOL_ID: '1' }, forked, false)).toEqual([]);
    expect(runOwners({}, forked, true)).toEqual([]);
  });

  it('markRunRoot names this process with its start time and keeps an outer mark', () => {
    const env: NodeJS.ProcessEnv = {};
    markRunRoot(env);
    expect(env.SLIPWAY_RUN_PID).toBe(`${process.pid}:${processStartTime(process.pid)}`);
    const outer = { SLIPWAY_RUN_PID: '42' };
    markRunRoot(outer);
    expect(outer.SLIPWAY_RUN_PID).toBe('42');
  });
});

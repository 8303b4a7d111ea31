import { afterAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, skipReason, specFor } from './fixture.js';

const skip = skipReason();
if (skip) console.warn(`keeper integration tests skipped: ${skip}`);

/** 'resolved' when `p` is already settled or settles within this turn of the event loop. */
function settledNow(p: Promise<unknown>): Promise<'resolved' | 'pending'> {
  return Promise.race([p.then(() => 'resolved' as const, () => 'resolved' as const), new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe.skipIf(skip)('keeper: the process keeper and its records', () => {
  const started: Keeper[] = [];
  afterAll(async () => { for (const k of started) await k.close(); });

  it('closing another keeper does not clear the process keeper (no second keeper starts)', async () => {
    const mine = await Keeper.get();
    const other = await Keeper.start();
    started.push(other);
    await other.close();
    expect(await Keeper.get()).toBe(mine);
  });

  it('forgets the exit of a removed container (exit records do not grow per container)', async () => {
    busyboxRootfs();
    const keeper = await Keeper.start();
    started.push(keeper);
    const spec = specFor(keeper, ['true']);
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: 0, signal: null });
    await keeper.removeContainer(spec.id);
    // A kept record would answer at once; a forgotten one leaves a waiter (unreferenced here) pending.
    expect(await settledNow(keeper.waitContainer(spec.id, { ref: false }))).toBe('pending');
  });
});

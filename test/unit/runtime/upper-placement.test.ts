import { describe, expect, it } from 'vitest';
import { TMPFS_MAGIC, upperPlacement } from '../../../src/runtime/upper-placement.js';

const EXT4 = 0xef53;
/** A fake statfs(2): the file system type of each path, ENOENT for others. */
function fakeStatfs(types: Record<string, number>): (p: string) => { type: number } {
  return (p) => {
    if (!(p in types)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return { type: types[p]! };
  };
}

describe('upperPlacement', () => {
  it('puts the writable layer on the store\'s disk when the automatic state dir is a tmpfs', () => {
    const r = upperPlacement('/run/slipway', '/var/cache/slipway', false, fakeStatfs({ '/run/slipway': TMPFS_MAGIC, '/var/cache/slipway': EXT4 }));
    expect(r.where).toBe('store');
    expect(r.why).toContain('/run/slipway is a tmpfs');
  });

  it('keeps it in the state dir when that is on disk', () => {
    expect(upperPlacement('/tmp/slipway-1000', '/s', false, fakeStatfs({ '/tmp/slipway-1000': EXT4, '/s': EXT4 })).where).toBe('state');
  });

  it('respects a stateDir set explicitly, tmpfs or not', () => {
    const r = upperPlacement('/run/mine', '/s', true, fakeStatfs({ '/run/mine': TMPFS_MAGIC, '/s': EXT4 }));
    expect(r).toEqual({ where: 'state', why: 'the stateDir setting is explicit' });
  });

  it('keeps it in the state dir when the store is a tmpfs too (nothing to gain)', () => {
    expect(upperPlacement('/run/slipway', '/dev/shm/store', false, fakeStatfs({ '/run/slipway': TMPFS_MAGIC, '/dev/shm/store': TMPFS_MAGIC })).where).toBe('state');
  });

  it('counts a path statfs cannot read as not a tmpfs', () => {
    expect(upperPlacement('/gone', '/s', false, fakeStatfs({ '/s': EXT4 })).where).toBe('state');
    expect(upperPlacement('/run/slipway', '/gone', false, fakeStatfs({ '/run/slipway': TMPFS_MAGIC })).where).toBe('store');
  });
});

import { describe, expect, it } from 'vitest';
import { claimOwnName, claimReusedName } from '../../../src/runtime/container-names.js';

describe('container names held by this process', () => {
  it('a reused container under a name blocks an own container of that name until its last lease is released', () => {
    const a = claimReusedName('n1');
    const b = claimReusedName('n1'); // a second lease of the same reused container
    expect(() => claimOwnName('n1')).toThrow(/n1 is already running in this process \(a reused one/);
    a();
    a(); // releasing twice counts once
    expect(() => claimOwnName('n1')).toThrow(/already running/);
    b();
    claimOwnName('n1')();
  });

  it('an own container under a name blocks a reused one and another own one, and gives the name back', () => {
    const release = claimOwnName('n2');
    expect(() => claimReusedName('n2')).toThrow(/n2 is already running in this process \(not reused/);
    expect(() => claimOwnName('n2')).toThrow(/ERR_INVALID_ARGUMENT|already running/);
    release();
    claimReusedName('n2')();
  });
});

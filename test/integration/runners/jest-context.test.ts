// slipway/jest hands provided values to jest's workers in a file: private to the user (0600 in the
// keeper's 0700 state dir), named by SLIPWAY_JEST_CONTEXT, removed by globalTeardown.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineGlobalSetup, globalTeardown, inject } from '../../../src/jest.js';
import { readContext } from '../../../src/runners/jest-context.js';

describe('slipway/jest context file', () => {
  it('is 0600 in a 0700 dir, read by inject, and removed by globalTeardown', async () => {
    await defineGlobalSetup(({ provide }) => {
      provide('redisUrl', 'redis://:secret@127.0.0.1:6379');
      provide('ports', [1, 2]);
    })();
    const file = process.env.SLIPWAY_JEST_CONTEXT!;
    try {
      expect(file).toBeTruthy();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
      expect(statSync(file).uid).toBe(process.getuid!());
      expect(readContext()).toEqual({ redisUrl: 'redis://:secret@127.0.0.1:6379', ports: [1, 2] });
      expect(inject('ports')).toEqual([1, 2]);
    } finally {
      await globalTeardown();
    }
    expect(existsSync(file)).toBe(false);
    expect(process.env.SLIPWAY_JEST_CONTEXT).toBeUndefined();
  });
});

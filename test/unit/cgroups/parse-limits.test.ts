import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { parseCpus, parseMemory } from '../../../src/runtime/cgroups/index.js';

function code(fn: () => unknown): { code?: string; message: string } {
  try { fn(); } catch (e) { return { code: SlipwayError.is(e) ? e.code : undefined, message: (e as Error).message }; }
  throw new Error('expected a throw');
}

describe('parseMemory', () => {
  it.each([
    ['128m', 128 * 1024 ** 2], ['1g', 1024 ** 3], ['1G', 1024 ** 3], ['512k', 512 * 1024], ['512KiB', 512 * 1024],
    ['64MB', 64 * 1024 ** 2], ['1.5g', 1.5 * 1024 ** 3], ['4096', 4096], ['4096b', 4096], [' 2m ', 2 * 1024 ** 2],
    ['1t', 1024 ** 4], [512 * 1024 * 1024, 512 * 1024 * 1024], ['.5k', 512],
  ])('%s → %d', (input, bytes) => {
    expect(parseMemory(input)).toBe(bytes);
  });

  it.each(['12x', '-1', '-5m', '0', '0m', 'NaN', '', 'm', '1e3', '1.2.3m', '128 megs', 'Infinity'])('rejects %j', (input) => {
    const e = code(() => parseMemory(input));
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toContain('invalid memory');
    expect(e.message).toContain(JSON.stringify(input));
    expect(e.message).toContain('"128m"');
  });

  it.each([-1, 0, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 2])('rejects the number %d', (n) => {
    expect(code(() => parseMemory(n)).code).toBe('ERR_INVALID_ARGUMENT');
  });

  it('names the option it was given and accepts -1 only when unlimited is allowed', () => {
    expect(code(() => parseMemory('2q', 'memorySwap')).message).toContain('invalid memorySwap: "2q"');
    expect(parseMemory('-1', 'memorySwap', { allowUnlimited: true })).toBe(-1);
    expect(parseMemory(-1, 'memorySwap', { allowUnlimited: true })).toBe(-1);
    expect(code(() => parseMemory('-2', 'memorySwap', { allowUnlimited: true })).message).toContain('-1 for unlimited');
  });
});

describe('parseCpus', () => {
  it.each([['0.5', 0.5], ['2', 2], [2, 2], [0.01, 0.01], ['.25', 0.25], ['1.5', 1.5]])('%s → %d', (input, n) => {
    expect(parseCpus(input)).toBe(n);
  });
  it.each(['0', '-1', '12x', 'NaN', '', '1e2', '0.001', 'Infinity'] as const)('rejects %j', (input) => {
    const e = code(() => parseCpus(input));
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toContain(`invalid cpus: ${JSON.stringify(input)}`);
    expect(e.message).toContain('at least 0.01');
  });
  it.each([0, -0.5, NaN, Infinity, 0.001])('rejects the number %d', (n) => {
    expect(code(() => parseCpus(n)).code).toBe('ERR_INVALID_ARGUMENT');
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mappingKey, parseSubIds } from '../../src/runtime/keeper/id-mapping.js';

const subuid = readFileSync(new URL('./fixtures/keeper/subuid', import.meta.url), 'utf8');

describe('id mapping', () => {
  it('finds ranges by user name, in file order', () => {
    expect(parseSubIds(subuid, { name: 'alice', id: 1000 })).toEqual([{ start: 100000, count: 65536 }, { start: 500000, count: 10 }]);
  });
  it('finds ranges by numeric id', () => {
    expect(parseSubIds(subuid, { name: 'carol', id: 1001 })).toEqual([{ start: 300000, count: 1000 }]);
  });
  it('ignores comments, malformed lines and other users', () => {
    expect(parseSubIds(subuid, { name: 'broken', id: 5 })).toEqual([]);
    expect(parseSubIds(subuid, { id: 7 })).toEqual([]);
  });
  it('derives stable mapping keys', () => {
    const full = [{ inside: 0, outside: 0, count: 4294967295 }];
    expect(mappingKey({ kind: 'identity', uidMap: full, gidMap: full })).toBe('root');
    const u = [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }];
    expect(mappingKey({ kind: 'subid', uidMap: u, gidMap: u })).toBe('subid-1000-100000-65536');
    const g = [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 200000, count: 65536 }];
    expect(mappingKey({ kind: 'subid', uidMap: u, gidMap: g })).toBe('subid-1000-100000-65536-g200000-65536');
    expect(mappingKey({ kind: 'single', uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }] })).toBe('single-1000-1000');
  });
});

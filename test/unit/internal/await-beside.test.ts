import { describe, expect, it } from 'vitest';
import { awaitBeside } from '../../../src/internal/await-beside.js';

const later = <T>(ms: number, f: () => T): Promise<T> => new Promise((resolve, reject) => setTimeout(() => { try { resolve(f()); } catch (e) { reject(e); } }, ms));

describe('awaitBeside', () => {
  it("returns main's value only after the side work has settled", async () => {
    let sideDone = false;
    const side = later(30, () => { sideDone = true; });
    await expect(awaitBeside(Promise.resolve(7), side)).resolves.toBe(7);
    expect(sideDone).toBe(true);
  });

  it("main's failure wins, and is thrown only once the side work has settled (its own failure handled, not unhandled)", async () => {
    let sideDone = false;
    const side = later(30, () => { sideDone = true; throw new Error('side'); });
    await expect(awaitBeside(Promise.reject(new Error('main')), side)).rejects.toThrow('main');
    expect(sideDone).toBe(true);
  });

  it("the side work's failure is thrown when main succeeded; no side work is just main", async () => {
    await expect(awaitBeside(Promise.resolve(1), later(5, () => { throw new Error('side'); }))).rejects.toThrow('side');
    await expect(awaitBeside(Promise.resolve(2), undefined)).resolves.toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { isModuleDefaultSnapshot, moduleDefaultSnapshot, type SnapshotOptions } from '../../../src/api/snapshot-options.js';

describe("a module's default snapshot", () => {
  it('stays marked through withSnapshot (skipped on the engine runtime), a snapshot the user asks for does not', () => {
    const marked = new Container('busybox').withSnapshot(moduleDefaultSnapshot({ salt: 'a' })).options.snapshot as SnapshotOptions;
    expect(isModuleDefaultSnapshot(marked)).toBe(true);
    expect(marked.salt).toBe('a');
    const asked = new Container('busybox').withSnapshot({ salt: 'a' }).options.snapshot as SnapshotOptions;
    expect(isModuleDefaultSnapshot(asked)).toBe(false);
  });
});

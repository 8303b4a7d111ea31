import { describe, expect, it } from 'vitest';
import { UndoStack } from '../../../src/runtime/undo-stack.js';

describe('UndoStack', () => {
  it('undoes newest first; restart keeps container steps, remove takes all', async () => {
    const done: string[] = [];
    const s = new UndoStack();
    s.push('name', 'container', () => { done.push('name'); });
    s.push('create', 'boot', (why) => { done.push(`create:${why}`); });
    s.push('port', 'boot', () => { done.push('port'); });
    await s.unwind('restart');
    expect(done).toEqual(['port', 'create:restart']);
    s.push('create', 'boot', (why) => { done.push(`create:${why}`); });
    await s.unwind('remove');
    expect(done).toEqual(['port', 'create:restart', 'create:remove', 'name']);
    expect(s.size).toBe(0);
  });

  it('a failing undo does not stop the others and is returned, not thrown', async () => {
    const done: string[] = [];
    const s = new UndoStack();
    s.push('a', 'container', () => { done.push('a'); });
    s.push('b', 'boot', async () => { throw new Error('b failed'); });
    s.push('c', 'boot', () => { done.push('c'); });
    const errors = await s.unwind('remove');
    expect(done).toEqual(['c', 'a']);
    expect(errors.map((e) => e.message)).toEqual(['b failed']);
  });

  it('overlapping unwinds run each undo once', async () => {
    let n = 0;
    const s = new UndoStack();
    s.push('slow', 'boot', async () => { n++; await new Promise((r) => setTimeout(r, 5)); });
    await Promise.all([s.unwind('remove'), s.unwind('remove')]);
    expect(n).toBe(1);
  });
});

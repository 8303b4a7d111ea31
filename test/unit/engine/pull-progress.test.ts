import { describe, expect, it } from 'vitest';
import type { PullProgress } from '../../../src/image/pull.js';
import { EnginePullProgress } from '../../../src/runtime/engine/engine-image.js';

describe('engine pull progress', () => {
  it('maps the engine\'s pull stream to compressed bytes per layer, ending complete', () => {
    const events: PullProgress[] = [];
    const p = new EnginePullProgress((e) => events.push(e));
    const lines = [
      { status: 'Pulling from library/busybox', id: 'latest' },
      { status: 'Pulling fs layer', progressDetail: {}, id: '0123456789ab' },
      { status: 'Already exists', progressDetail: {}, id: 'ffffffffffff' },
      { status: 'Downloading', progressDetail: { current: 100, total: 1000 }, id: '0123456789ab' },
      { status: 'Downloading', progressDetail: { current: 600, total: 1000 }, id: '0123456789ab' },
      { status: 'Verifying Checksum', progressDetail: {}, id: '0123456789ab' },
      { status: 'Download complete', progressDetail: {}, id: '0123456789ab' },
      { status: 'Extracting', progressDetail: { current: 32768, total: 1000 }, id: '0123456789ab' },
      { status: 'Pull complete', progressDetail: {}, id: '0123456789ab' },
      { status: 'Digest: sha256:94e5' },
    ];
    for (const l of lines) expect(p.line(JSON.stringify(l))).toBeUndefined();
    const layer = 'sha256:0123456789ab';
    expect(events).toEqual([{ layer, current: 100, total: 1000 }, { layer, current: 600, total: 1000 }, { layer, current: 1000, total: 1000 }]);
  });

  it('returns the engine\'s error from a line, in either form', () => {
    const p = new EnginePullProgress(undefined);
    expect(p.line('{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}')).toBe('manifest unknown');
    expect(p.line('{"errorDetail":{"message":"denied"}}')).toBe('denied');
    expect(p.line('not json')).toBeUndefined();
  });

  it('reports each layer once when its download completes (the debug log), with or without onProgress', () => {
    const done: [string, number][] = [];
    const p = new EnginePullProgress(undefined, (layer, bytes) => done.push([layer, bytes]));
    for (const l of [
      { status: 'Downloading', progressDetail: { current: 10, total: 500 }, id: 'aaaaaaaaaaaa' },
      { status: 'Download complete', progressDetail: {}, id: 'aaaaaaaaaaaa' },
      { status: 'Pull complete', progressDetail: {}, id: 'aaaaaaaaaaaa' },
      { status: 'Downloading', progressDetail: { current: 1, total: 80 }, id: 'bbbbbbbbbbbb' },
    ]) p.line(JSON.stringify(l));
    expect(done).toEqual([['sha256:aaaaaaaaaaaa', 500]]);
  });
});

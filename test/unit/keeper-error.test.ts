import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../src/errors.js';
import { KEEPER_ERROR_KINDS, KeeperError, errorFromFrame } from '../../src/runtime/keeper/keeper-error.js';
import { FrameType, Tag, tlv, type Frame } from '../../src/runtime/keeper/protocol.js';

function errorFrame(kind: number, stage: string, errno: number): Frame {
  return { type: FrameType.ERROR, reqid: 1, fields: [tlv.u32(Tag.KIND, kind), tlv.str(Tag.STAGE, stage), tlv.u32(Tag.ERRNO, errno), tlv.str(Tag.MESSAGE, 'text')] };
}

describe('keeper errors', () => {
  it('mirror native/protocol.h enum sw_err_kind name for name and number for number', () => {
    const h = readFileSync(new URL('../../native/protocol.h', import.meta.url), 'utf8');
    const native = [...h.matchAll(/^\s*EK_([A-Z_]+) = (\d+),/gm)].map((m) => [Number(m[2]), m[1]!.toLowerCase().replace(/_/g, '-')] as const);
    expect(native.length).toBe(KEEPER_ERROR_KINDS.length);
    for (const [n, name] of native) expect(KEEPER_ERROR_KINDS[n]).toBe(name);
  });

  it('are typed by kind and errno, whatever the stage text says', () => {
    const e = errorFromFrame(errorFrame(13, 'something reworded later', 98));
    expect(e).toBeInstanceOf(KeeperError);
    expect(SlipwayError.is(e, 'ERR_RUNTIME')).toBe(true);
    expect([e.kind, e.errnoName, e.errno, e.stage]).toEqual(['publish-bind', 'EADDRINUSE', 98, 'something reworded later']);
    expect(KeeperError.isKind(e, 'publish-bind', 'EADDRINUSE')).toBe(true);
    expect(KeeperError.isKind(e, 'publish-bind', 'EADDRNOTAVAIL')).toBe(false);
    // The hint follows the kind, not the wording.
    expect(errorFromFrame(errorFrame(11, 'run it', 2)).hint).toMatch(/command was not found/);
    expect(errorFromFrame(errorFrame(9, 'ids', 22)).hint).toMatch(/subuid/);
    expect(errorFromFrame(errorFrame(0, 'exec foo', 2)).hint).toBeUndefined();
  });

  it('are ERR_NETWORK for network kinds and for any answer to a network request', () => {
    expect(errorFromFrame(errorFrame(16, 'x', 17)).code).toBe('ERR_NETWORK');
    expect(errorFromFrame(errorFrame(3, 'network attach: no such container', 3), { network: true }).code).toBe('ERR_NETWORK');
    expect(errorFromFrame(errorFrame(3, 'start: no such container', 3)).code).toBe('ERR_RUNTIME');
    expect(errorFromFrame(errorFrame(999, 'newer helper', 5)).kind).toBe('unspecified');
  });
});

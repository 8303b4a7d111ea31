import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../src/errors.js';
import { helperPath } from '../../src/runtime/keeper/helper-path.js';
import { Keeper } from '../../src/runtime/keeper/keeper.js';
import { FrameType, PROTOCOL_VERSION, Tag, encodeFrame, tlv } from '../../src/runtime/keeper/protocol.js';

describe('keeper helper discovery', () => {
  it('reports a missing helper with the command that builds it', () => {
    let err: unknown;
    try {
      helperPath({ SLIPWAY_HELPER: '/nonexistent/slipway-helper' });
    } catch (e) {
      err = e;
    }
    expect(SlipwayError.is(err, 'ERR_HELPER_MISSING')).toBe(true);
    expect((err as SlipwayError).hint).toMatch(/SLIPWAY_HELPER points to \/nonexistent\/slipway-helper/);
  });

  it('finds the helper inside the package by default', () => {
    try {
      expect(helperPath({})).toMatch(/native\/build\/slipway-helper$/);
    } catch (e) {
      expect(SlipwayError.is(e, 'ERR_HELPER_MISSING')).toBe(true);
      expect((e as SlipwayError).hint).toMatch(/make -C .*native/);
    }
  });

  it('rejects a helper that speaks another protocol version as stale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-fake-helper-'));
    const fake = join(dir, 'slipway-helper');
    const hello = encodeFrame(FrameType.HELLO, 0, [tlv.u32(Tag.VERSION, 99), tlv.str(Tag.STATE_DIR, dir)]);
    writeFileSync(fake, `#!${process.execPath}\nprocess.stdout.write(Buffer.from('${hello.toString('base64')}', 'base64'));\nprocess.stdin.resume();\n`);
    chmodSync(fake, 0o755);
    const saved = process.env.SLIPWAY_HELPER;
    process.env.SLIPWAY_HELPER = fake;
    try {
      const err = await Keeper.start({ stateRoot: dir }).then(() => undefined, (e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_HELPER_STALE')).toBe(true);
      expect((err as SlipwayError).message).toMatch(new RegExp(`protocol 99, this slipway needs ${PROTOCOL_VERSION}`));
      expect((err as SlipwayError).hint).toMatch(/make -C/);
    } finally {
      if (saved === undefined) delete process.env.SLIPWAY_HELPER;
      else process.env.SLIPWAY_HELPER = saved;
    }
  });
});

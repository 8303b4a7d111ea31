/**
 * The settings are read once per start (they were read ~5 times, ~8 paths each, then cached by stat), and a config
 * file edited between two starts is seen by the second. Counted through the `slipway:config` debug log, which logs
 * one line per reading of the files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import createDebug from 'debug';
import { afterAll, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-config-per-start-'));
const file = join(dir, 'slipway.config.json');
const reads: string[] = [];
const saved = { log: createDebug.log, namespaces: createDebug.disable(), config: process.env.SLIPWAY_CONFIG, timeout: process.env.SLIPWAY_STARTUP_TIMEOUT };
// This file runs in its own worker: the variable and the debug hook reach only its starts.
process.env.SLIPWAY_CONFIG = file;
delete process.env.SLIPWAY_STARTUP_TIMEOUT;
createDebug.enable('slipway:config');
createDebug.log = (...args: unknown[]) => { reads.push(format(...args)); };
afterAll(() => {
  createDebug.log = saved.log;
  createDebug.enable(saved.namespaces);
  if (saved.config === undefined) delete process.env.SLIPWAY_CONFIG; else process.env.SLIPWAY_CONFIG = saved.config;
  if (saved.timeout !== undefined) process.env.SLIPWAY_STARTUP_TIMEOUT = saved.timeout;
  rmSync(dir, { recursive: true, force: true });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('settings per start', () => {
  it('a start reads the config files once, and the next start sees the file edited in between', { timeout: 120_000 }, async () => {
    const container = () => new Container(fixtureRef('busybox')).withCommand(['sleep', '600']);
    writeFileSync(file, JSON.stringify({ startupTimeout: 60_000 }));
    reads.length = 0;
    {
      await using c = await container().start();
      expect(reads.filter((l) => l.includes(file))).toHaveLength(1);
      expect(reads).toHaveLength(1);
      reads.length = 0;
      await c.exec(['true']);
    }
    // 1 ms cannot boot a container: the boot (bounded by the startup timeout) fails only if this start read the edit.
    writeFileSync(file, JSON.stringify({ startupTimeout: 1 }));
    reads.length = 0;
    const err = await container().start().then((c) => c.remove(), (e: unknown) => e);
    expect(SlipwayError.is(err) && err.code).toBe('ERR_START_TIMEOUT');
    expect(reads.filter((l) => l.includes(file))).toHaveLength(1);
  });
});

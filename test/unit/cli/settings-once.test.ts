// One reading of the settings per CLI command (counted through the `slipway:config` debug log, one line per reading).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { format } from 'node:util';
import createDebug from 'debug';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { CliIO } from '../../../src/cli/io.js';

let dir: string;
const reads: string[] = [];
const saved = { log: createDebug.log, namespaces: createDebug.disable() };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-settings-'));
  reads.length = 0;
  createDebug.enable('slipway:config');
  createDebug.log = (...args: unknown[]) => { reads.push(format(...args)); };
});
afterEach(() => {
  createDebug.log = saved.log;
  createDebug.enable(saved.namespaces);
  rmSync(dir, { recursive: true, force: true });
});

function io(env: NodeJS.ProcessEnv): CliIO & { out: () => string } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (b: Buffer) => { text += b.toString(); });
  return { stdout, stderr: new PassThrough(), env, onSignal: () => () => {}, out: () => text };
}

it.each([['info'], ['images']])('`slipway %s` reads the config files once', async (command) => {
  const file = join(dir, 'slipway.config.json');
  writeFileSync(file, JSON.stringify({ storeDir: join(dir, 'store'), stateDir: join(dir, 'state') }));
  const cli = io({ HOME: dir, PATH: process.env.PATH, SLIPWAY_CONFIG: file });
  expect(await main([command], cli)).toBe(0);
  expect(reads).toHaveLength(1);
});

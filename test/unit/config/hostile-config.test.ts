// A config file that is not a file: a FIFO named slipway.config.json (in the upward search, by $SLIPWAY_CONFIG, as
// ~/.testcontainers.properties) blocked the synchronous read in open() until a writer came, freezing every start and
// the test runner's own timers; /dev/zero was read until memory ran out. They are now refused at once with ERR_CONFIG
// naming the file and what it is. A writer loop stands by so the old code, which waits for one, fails instead of
// hanging the runner: it then read an empty file and said something else.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { SlipwayError } from '../../../src/errors.js';

let root = '';
let home = '';
let cwd = '';
let writer: ChildProcess | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'slipway-config-hostile-'));
  home = join(root, 'home');
  cwd = join(root, 'project', 'app');
  mkdirSync(home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
});
afterEach(() => {
  writer?.kill('SIGKILL');
  writer = undefined;
  rmSync(root, { recursive: true, force: true });
});

/** A FIFO at `file`, with a writer that opens and closes it each time a reader comes (so a blocking reader returns). */
function fifo(file: string): string {
  execFileSync('mkfifo', [file]);
  writer = spawn('sh', ['-c', 'while [ -p "$0" ]; do : > "$0"; done', file], { stdio: 'ignore' });
  return file;
}

function refused(env: NodeJS.ProcessEnv): SlipwayError {
  try {
    loadConfig({ cwd, env: { HOME: home, ...env } });
  } catch (e) {
    if (SlipwayError.is(e, 'ERR_CONFIG')) return e;
    throw e;
  }
  throw new Error('loadConfig did not throw');
}

describe('config files that are not files', () => {
  it('a FIFO slipway.config.json in the upward search is refused, not waited on', () => {
    const file = fifo(join(root, 'project', 'slipway.config.json'));
    const err = refused({});
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/not a regular file \(a FIFO\)/);
    expect(err.hint).toMatch(/regular JSON file/);
  });

  it('$SLIPWAY_CONFIG naming a FIFO or /dev/zero is refused', () => {
    const file = fifo(join(root, 'named.json'));
    expect(refused({ SLIPWAY_CONFIG: file }).message).toMatch(/named\.json: not a regular file \(a FIFO\)/);
    expect(refused({ SLIPWAY_CONFIG: '/dev/zero' }).message).toMatch(/\/dev\/zero: not a regular file \(a character device\)/);
  });

  it('a FIFO ~/.testcontainers.properties or user config is refused', () => {
    fifo(join(home, '.testcontainers.properties'));
    expect(refused({}).message).toMatch(/\.testcontainers\.properties: not a regular file \(a FIFO\)/);
    writer?.kill('SIGKILL');
    rmSync(join(home, '.testcontainers.properties'));
    mkdirSync(join(home, '.config', 'slipway'), { recursive: true });
    fifo(join(home, '.config', 'slipway', 'config.json'));
    expect(refused({}).message).toMatch(/config\.json: not a regular file \(a FIFO\)/);
  });

  it('a directory named slipway.config.json is still skipped in the upward search; a large file is refused unread', () => {
    mkdirSync(join(cwd, 'slipway.config.json'));
    writeFileSync(join(root, 'project', 'slipway.config.json'), JSON.stringify({ startupTimeout: 5000 }));
    expect(loadConfig({ cwd, env: { HOME: home } }).values.startupTimeout).toBe(5000);
    writeFileSync(join(root, 'project', 'slipway.config.json'), `{"startupTimeout": 5000${' '.repeat(2 << 20)}}`);
    expect(refused({}).message).toMatch(/larger than 1048576 bytes/);
  });
});

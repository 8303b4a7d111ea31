// A hostile compose project names files that are not files: a FIFO as an env_file, an `extends.file` or an include's
// env_file blocked the synchronous read in open() until a writer came, freezing the whole test process (timers, a
// test runner's timeout and all); /dev/zero was read until Node gave up at 2 GiB. Such inputs are now refused at
// once with ERR_COMPOSE_INVALID naming the file and what it is.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCompose } from '../../../src/compose/load.js';
import { readEnvFile } from '../../../src/compose/env-file.js';
import { SlipwayError } from '../../../src/errors.js';

let dir = '';
let fifo = '';

function refused(f: () => unknown): SlipwayError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(SlipwayError.is(err, 'ERR_COMPOSE_INVALID'), String(err)).toBe(true);
  return err as SlipwayError;
}

describe('compose: hostile file references', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-compose-hostile-'));
    fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an env_file that is a FIFO or a device is refused, not read', () => {
    expect(refused(() => readEnvFile(fifo)).message).toMatch(/env file .*fifo: not a regular file \(a FIFO\)/);
    expect(refused(() => readEnvFile('/dev/zero')).message).toMatch(/not a regular file \(a character device\)/);
  });

  it('extends.file and an include\'s env_file that are a FIFO or /dev/zero are refused', () => {
    writeFileSync(join(dir, 'extends-fifo.yml'), 'services:\n  web:\n    image: busybox\n    extends: { file: ./fifo, service: base }\n');
    expect(refused(() => loadCompose(dir, ['extends-fifo.yml'], {})).message).toMatch(/compose file .*fifo: not a regular file \(a FIFO\)/);
    writeFileSync(join(dir, 'extends-zero.yml'), 'services:\n  web:\n    image: busybox\n    extends: { file: /dev/zero, service: base }\n');
    expect(refused(() => loadCompose(dir, ['extends-zero.yml'], {})).message).toMatch(/\/dev\/zero: not a regular file/);
    writeFileSync(join(dir, 'inc.yml'), 'services:\n  db:\n    image: busybox\n');
    writeFileSync(join(dir, 'include-fifo.yml'), 'include:\n  - path: ./inc.yml\n    env_file: ./fifo\nservices:\n  web:\n    image: busybox\n');
    expect(refused(() => loadCompose(dir, ['include-fifo.yml'], {})).message).toMatch(/fifo: not a regular file/);
  });

  it('a compose file above 16 MiB is refused before it is parsed', () => {
    writeFileSync(join(dir, 'huge.yml'), `services:\n  web:\n    image: busybox\n#${'x'.repeat(17 << 20)}\n`);
    expect(refused(() => loadCompose(dir, ['huge.yml'], {})).message).toMatch(/above the limit/);
  });

  it('aliases that expand exponentially (a "billion laughs" file) are ERR_COMPOSE_INVALID naming the file', () => {
    // 9 levels of 9 aliases each: 9^9 strings once expanded; yaml refuses it early, with a plain ReferenceError before.
    const levels = ['x-l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= 8; i++) levels.push(`x-l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(',')}]`);
    writeFileSync(join(dir, 'laughs.yml'), `${levels.join('\n')}\nservices:\n  s:\n    image: busybox\n    command: *l8\n`);
    const e = refused(() => loadCompose(dir, ['laughs.yml'], {}));
    expect(e.message).toMatch(/laughs\.yml: YAML aliases expand too far/);
    expect(e.hint).toMatch(/anchors and aliases/);
  });
});

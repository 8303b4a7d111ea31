// A build secret's file (BuildOptions.secrets, `--secret id=…,src=…`) that is a FIFO held the build in open() until a
// writer came; /dev/zero was read until memory ran out. Now ERR_BUILD naming the file. A writer loop lets the old
// blocking read return (with an empty secret) instead of hanging the runner.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { prepareRunMounts, type RunMountContext } from '../../../src/build/run-mounts.js';

function ctx(file: string): RunMountContext {
  const unused = () => { throw new Error('not used'); };
  return {
    ins: { name: 'RUN', flags: { mount: ['type=secret,id=tok,env=TOKEN'] }, args: [], line: 3, raw: 'RUN --mount=type=secret,id=tok,env=TOKEN true' } as never,
    workdir: '/', storeRoot: '/nonexistent', mappingKey: 'k', secrets: { tok: { file } },
    privateDir: unused, applyOwnership: unused, removeTree: unused, sourceTree: unused,
  };
}

it('a secret file that is a FIFO or /dev/zero fails the build with ERR_BUILD; a binary secret is kept as bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-secret-hostile-'));
  const fifo = join(dir, 'token');
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'while [ -p "$0" ]; do : > "$0"; done', fifo], { stdio: 'ignore' });
  try {
    for (const file of [fifo, '/dev/zero']) {
      const e = await prepareRunMounts(ctx(file)).then(() => undefined, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_BUILD'), String(e)).toBe(true);
      expect((e as SlipwayError).message).toMatch(new RegExp(`secret file ${file}: not a regular file`));
    }
    writeFileSync(join(dir, 'plain'), 'tok\u00e9n');
    expect((await prepareRunMounts(ctx(join(dir, 'plain')))).env).toEqual({ TOKEN: 'tok\u00e9n' });
  } finally {
    writer.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

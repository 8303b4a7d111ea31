// withInitialData() given a FIFO blocked the whole process in readFileSync's open() (configure() reads the file to
// key its snapshot) until a writer came; /dev/zero was read until memory ran out. Now the start fails with
// ERR_COPY_SOURCE_MISSING naming the file. A writer loop lets the old blocking read return instead of hanging the runner.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container } from '../../../src/api/container.js';
import { SlipwayError } from '../../../src/errors.js';
import { redisService } from '../../../src/modules/redis.js';

it('redis initial data that is a FIFO or /dev/zero is refused, not read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-redis-hostile-'));
  const fifo = join(dir, 'data.redis');
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'while [ -p "$0" ]; do : > "$0"; done', fifo], { stdio: 'ignore' });
  try {
    for (const file of [fifo, '/dev/zero']) {
      const s = { initialData: file } as never;
      redisService.configure(new Container('redis:7'), s);
      const e = await redisService.afterStart!({} as never, s).then(() => undefined, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_COPY_SOURCE_MISSING'), String(e)).toBe(true);
      expect((e as SlipwayError).message).toContain(file);
      expect(((e as SlipwayError).cause as Error).message).toMatch(/not a regular file/);
    }
  } finally {
    writer.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

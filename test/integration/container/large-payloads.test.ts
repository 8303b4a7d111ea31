/**
 * Payloads above the keeper's 64 MiB frame limit through the public API: they used to take the
 * keeper down and every container of the process with it. They stream now, and a bystander keeps
 * serving its published port throughout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, Wait } from '../../../src/index.js';
import { fixtureRef, helperBuilt, httpGet, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const BIG = 65 * 1024 * 1024;

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('payloads above 64 MiB', () => {
  it('withFile, withCopy, copyTo and exec stdin of 65 MiB arrive intact while another container keeps serving', async () => {
    await using bystander = await new Container(fixtureRef('busybox')).withCommand(['httpd', '-f', '-p', '8080', '-h', '/etc'])
      .expose(8080).waitFor(Wait.forHttp('/passwd', 8080)).start();
    const port = bystander.getMappedPort(8080);
    const content = randomBytes(BIG);
    const md5 = createHash('md5').update(content).digest('hex');
    const dir = await mkdtemp(join(tmpdir(), 'slipway-big-'));
    await using _dir = { [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
    const hostFile = join(dir, 'big.bin');
    await writeFile(hostFile, content);

    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000'])
      .withFile('/data/file.bin', content).withCopy(hostFile, '/data/copy.bin').start();
    await c.copyTo(content, '/data/copyto.bin');
    const sums = await c.exec(['md5sum', '/data/file.bin', '/data/copy.bin', '/data/copyto.bin']);
    expect(sums.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual([md5, md5, md5]);
    const piped = await c.exec(['md5sum'], { stdin: content });
    expect(piped.stdout).toBe(`${md5}  -\n`);

    expect(await httpGet(port, '/passwd')).toContain('root:x:0:0');
  }, 180_000);
});

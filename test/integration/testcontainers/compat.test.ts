/**
 * slipway/testcontainers where testcontainers-node's own suite (scripts/measure-testcontainers-suite.mjs) found it
 * behaving unlike testcontainers: each case here failed before its fix.
 */
import tar from 'tar-stream';
import { expect, it } from 'vitest';
import { GenericContainer } from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const BUSYBOX = () => fixtureRef('busybox');
const SLEEP = ['sleep', '1000'];

/** A tar-stream pack: a streamx Readable, not Node's (as archiver's is readable-stream's). */
function pack(name: string, uid: number, gid: number) {
  const p = tar.pack();
  p.entry({ name, uid, gid }, 'hello world');
  p.finalize();
  return p as unknown as import('node:stream').Readable;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('testcontainers compat (upstream suite findings)', { timeout: 120_000 }, () => {
  it('archives keep their headers\' uid/gid before and after start, with copyUIDGID too when the process runs as root', async () => {
    await using c = await new GenericContainer(BUSYBOX()).withCommand(SLEEP)
      .withCopyArchivesToContainer([{ tar: pack('tmp/before.txt', 4242, 4343), target: '/' }])
      .withCopyToContainerOptions({ copyUIDGID: true })
      .start();
    await c.copyArchiveToContainer(pack('tmp/after.txt', 4242, 4343), '/');
    await c.copyArchiveToContainer(pack('tmp/after-uidgid.txt', 4444, 4545), '/', { copyUIDGID: true });
    expect((await c.exec(['stat', '-c', '%u:%g', '/tmp/before.txt', '/tmp/after.txt', '/tmp/after-uidgid.txt'])).output)
      .toBe('4242:4343\n4242:4343\n4444:4545\n');
    await expect(c.copyArchiveToContainer(pack('tmp/x', 1, 1), '/', { noOverwriteDirNonDir: true })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
  });

  it('copyArchiveToContainer with copyUIDGID gives the entries to a non-root process user', async () => {
    await using c = await new GenericContainer(BUSYBOX()).withCommand(SLEEP).withUser('100:101').start();
    await c.copyArchiveToContainer(pack('tmp/owned.txt', 4242, 4343), '/', { copyUIDGID: true });
    expect((await c.exec(['stat', '-c', '%u:%g', '/tmp/owned.txt'])).output).toBe('100:101\n');
  });
});

import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { GenericContainer } from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** `<mount options> <super options>` of the mount at `path`, from the container's own /proc/self/mountinfo. */
const MOUNT_OF = (path: string): string => `awk '$5 == "${path}" { for (i = 7; $i != "-"; i++); print $6, $(i + 3) }' /proc/self/mountinfo`;

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('tmpfs options', () => {
  it('withTmpFs applies Docker\'s options: ro, noexec (Docker\'s default), exec, uid, gid, mode, size, noatime', async () => {
    // Before: only size and mode applied; /ro was writable, /data allowed exec and belonged to 0:0.
    await using c = await new GenericContainer(fixtureRef('busybox')).withCommand(['sleep', '1000']).withTmpFs({
      '/ro': 'ro,size=1m',
      '/data': 'rw,noexec,nosuid,nodev,uid=1000,gid=1001,size=2m,mode=750,noatime',
      '/bin2': 'rw,exec',
    }).start();
    const sh = async (cmd: string): Promise<string> => {
      const r = await c.exec(['sh', '-c', cmd]);
      return `${r.exitCode} ${r.output.trim()}`;
    };
    const ro = await sh(MOUNT_OF('/ro'));
    expect(ro).toMatch(/^0 ro,nosuid,nodev,noexec\S* \S*size=1024k/);
    expect(await sh('touch /ro/f 2>&1')).toMatch(/^1 .*Read-only file system/);
    const data = await sh(MOUNT_OF('/data'));
    expect(data).toMatch(/^0 rw,nosuid,nodev,noexec,noatime \S*size=2048k/);
    // The kernel lists uid= and gid= as the host sees them (init's user namespace): rootless, subordinate ids.
    expect(data).toMatch(/mode=750,uid=\d+,gid=\d+$/);
    expect(await sh('stat -c "%u:%g %a" /data')).toBe('0 1000:1001 750');
    // A program copied onto the noexec tmpfs cannot run, even as root; on the `exec` one it can.
    expect(await sh('cp /bin/busybox /data/echo && /data/echo ran 2>&1; echo "exit $?"')).toMatch(/Permission denied\nexit 126$/);
    expect(await sh('cp /bin/busybox /bin2/echo && /bin2/echo ran')).toBe('0 ran');
    expect(await sh(MOUNT_OF('/bin2'))).toMatch(/^0 rw,nosuid,nodev(,relatime)? /);
  });

  it('Container.withTmpfs takes the same as fields and option words; its default still allows exec', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000'])
      .withTmpfs('/plain')
      .withTmpfs('/owned', { uid: 1000, gid: 1000, mode: 0o700, readonly: true, options: 'noexec,nr_inodes=16' })
      .start();
    const plain = await c.exec(['sh', '-c', `cp /bin/busybox /plain/echo && /plain/echo ran; ${MOUNT_OF('/plain')}`]);
    // mode 1777 is tmpfs' default: not listed (rootless, the owner is: the host's id of the container's root).
    expect(plain.stdout).toMatch(/^ran\nrw,nosuid,nodev\S* rw(,uid=\d+,gid=\d+)?\n$/);
    const owned = await c.exec(['sh', '-c', `stat -c "%u:%g %a" /owned; ${MOUNT_OF('/owned')}; touch /owned/f`]);
    expect(owned.stdout).toMatch(/^1000:1000 700\nro,nosuid,nodev,noexec\S* \S*nr_inodes=16,mode=700,uid=\d+,gid=\d+/);
    expect(owned.exitCode).not.toBe(0);
  });
});

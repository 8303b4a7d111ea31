/**
 * Hole: exec({ user }) resolved the name from `<upper>/etc/passwd` on the host, by path (lstat,
 * then readFile). After START the upper dir is the container's: a symlink swapped in between the two
 * made the host's file be read (its users' ids and homes
 * reach the container); replacing /etc with a symlink to a host directory did so for certain; a
 * FIFO swapped in blocked a thread of Node's pool for good.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const ATTEMPTS = 150;

// The exec path is the same for every root strategy; under `copy` the container can also rename /etc
// itself (the kernel overlay refuses to rename a lower directory), which makes the attack certain.
process.env.SLIPWAY_ROOTFS = 'copy';

/** Settles within `ms` or says it hung (a hung read never settles). */
function settles<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; hung?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<{ hung: true }>((r) => { timer = setTimeout(() => r({ hung: true }), ms); });
  return Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), hung]).finally(() => clearTimeout(timer));
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: exec({ user }) reads /etc inside the container', () => {
  let hostDir: string;
  beforeAll(() => {
    // A host file the container names by its host path: it knows a user the image lacks.
    hostDir = mkdtempSync(join(tmpdir(), 'slipway-host-etc-'));
    chmodSync(hostDir, 0o755);
    writeFileSync(join(hostDir, 'passwd'), 'hostonly:x:4242:4242::/host-secret-home:/bin/sh\n');
    chmodSync(join(hostDir, 'passwd'), 0o644);
  });
  afterAll(() => rmSync(hostDir, { recursive: true, force: true }));

  it('never reads a host file through an /etc the container replaced with a symlink', async () => {
    // Under the copy root /etc is a plain directory of the upper dir, so the container can rename it.
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const swap = await c.exec(['sh', '-c', `mv /etc /etc.orig && ln -s ${hostDir} /etc && echo swapped`]);
    expect(swap.stdout.trim()).toBe('swapped');
    const err = await settles(c.exec(['true'], { user: 'hostonly' }), 20_000);
    expect(SlipwayError.is(err.error, 'ERR_CONTAINER_START')).toBe(true);
    expect(String(err.error)).toMatch(/unable to find user hostonly/);
    // A numeric user needs no lookup and still works.
    expect((await c.exec(['sh', '-c', 'grep ^Uid: /proc/self/status'], { user: '1234' })).stdout.split(/\s+/)[1]).toBe('1234');
  });

  it('follows a symlink that stays inside the container, as Docker does', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'mkdir -p /srv/etc && echo "inside:x:2001:2001::/home/inside:/bin/sh" > /srv/etc/passwd && rm /etc/passwd && ln -s ../srv/etc/passwd /etc/passwd']);
    const r = await c.exec(['sh', '-c', 'grep ^Uid: /proc/self/status'], { user: 'inside' });
    expect(r.stdout.split(/\s+/)[1]).toBe('2001');
  });

  it('is not sent a tree the container put at /etc/passwd', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'rm /etc/passwd && mkdir -p /etc/passwd/d && for i in $(seq 1 300); do echo x > /etc/passwd/d/f$i; done']);
    const err = await c.exec(['true'], { user: 'root' }).then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_CONTAINER_START')).toBe(true);
    // What the lookup asks the keeper for: the entry itself, not its 301 descendants.
    const keeper = await Keeper.get();
    const all: string[] = [];
    for await (const e of keeper.getFiles(c.id, '/etc/passwd', { topOnly: true })) all.push(e.path);
    expect(all).toEqual(['/etc/passwd']);
  });

  it('neither hangs nor misreads when the container swaps /etc/passwd for a FIFO', async () => {
    const flip = 'cp /etc/passwd /etc/pw.real; while :; do mkfifo /etc/pw.f; mv -f /etc/pw.f /etc/passwd; cp /etc/pw.real /etc/pw.r; mv -f /etc/pw.r /etc/passwd; done';
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', flip]).start();
    const outcomes = new Set<string>();
    for (let i = 0; i < ATTEMPTS; i++) {
      const r = await settles(c.exec(['true'], { user: 'root' }), 20_000);
      outcomes.add(r.hung ? 'hung' : r.error ? (SlipwayError.is(r.error) ? r.error.code : String(r.error)) : 'ok');
    }
    expect(outcomes.has('hung')).toBe(false);
    // Each attempt either read the image's file or failed with a clear error.
    expect([...outcomes].every((o) => ['ok', 'ERR_CONTAINER_START', 'ERR_RUNTIME'].includes(o))).toBe(true);
  });
});

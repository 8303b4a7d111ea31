/**
 * Hole: a copy into a container (copyTo, withCopy at boot) opened its target with open(O_WRONLY|O_CREAT): a FIFO the
 * image or the running container left at that path made open() wait for a reader that never comes, so the keeper's
 * worker, the copy and the whole start() hung for good. The target is now replaced, as Docker's copy replaces it.
 */
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** Settles within `ms` or says it hung (a hung copy never settles). */
function settles<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; hung?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<{ hung: true }>((r) => { timer = setTimeout(() => r({ hung: true }), ms); });
  return Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), hung]).finally(() => clearTimeout(timer));
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: a copy into a container never waits on what the container put at its target', () => {
  it('replaces a FIFO at the target instead of waiting for a reader', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'mkdir -p /app && mkfifo /app/config.json /app/other']);
    const r = await settles(c.copyTo(Buffer.from('{"ok":true}\n'), '/app/config.json'), 20_000);
    expect(r.hung).toBeUndefined();
    expect(r.error).toBeUndefined();
    expect((await c.exec(['cat', '/app/config.json'])).stdout).toBe('{"ok":true}\n');
    expect((await c.exec(['sh', '-c', 'test -f /app/config.json && test -p /app/other && echo regular'])).stdout.trim()).toBe('regular');
  });

  it('replaces a FIFO that a process of the container holds open for reading', async () => {
    // The reader holds the FIFO open before the copy (fd 3, opened read-write so it does not wait for a writer) and
    // never opens the path again: a copy that wrote into the FIFO feeds it, one that replaced the path does not.
    // (A reader that re-opened the path in a loop could open the new regular file and read the secret from it.)
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', 'mkfifo /tmp/f && exec 3<>/tmp/f && { cat <&3 >> /tmp/leaked & } && touch /tmp/ready && exec sleep 1000']).start();
    await c.exec(['sh', '-c', 'until [ -e /tmp/ready ]; do sleep 0.05; done']);
    const r = await settles(c.copyTo(Buffer.from('secret'), '/tmp/f'), 20_000);
    expect(r.hung).toBeUndefined();
    expect(r.error).toBeUndefined();
    expect((await c.exec(['cat', '/tmp/f'])).stdout).toBe('secret');
    // The content went to the new file, not down the pipe to the container's reader.
    expect((await c.exec(['cat', '/tmp/leaked'])).stdout).toBe('');
  });
});

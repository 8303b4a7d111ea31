/**
 * Hole: a GET (copyFrom, exec's /etc/passwd lookup) was paced by Node's credits only for the content of files above
 * one chunk (1 MiB); smaller files travel inside their GET_ENTRY frames, uncredited. A container that fills the
 * copied directory with many files of just under 1 MiB made the keeper push all of them into the test process as
 * fast as it read, whatever the reader took: the test process buffered the whole tree. Every GET frame now costs a
 * credit, so Node holds a bounded number of frames of a GET. The public copyFrom() stream is held to its reader's pace
 * the same way on either runtime (on an engine, the archive response is read as the stream is).
 */
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const FILES = 256;
const SIZE = 1_000_000; // just under one chunk: sent inline

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: a container cannot flood the test process through a GET', () => {
  nativeOnly('it reads the keeper\'s GET directly; the copyFrom() test below runs on both')(`holds a bounded part of ${FILES} files of ${SIZE} bytes while the reader has taken one`, async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', `mkdir /flood && head -c ${SIZE} /dev/zero > /flood/f && for i in $(seq 1 ${FILES}); do cp /flood/f /flood/f$i; done`]);
    const keeper = await Keeper.get();
    global.gc?.();
    const rss0 = process.memoryUsage.rss();
    const it = keeper.getFiles(c.id, '/flood')[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.type).toBe('directory');
    // The old keeper sent the whole tree (256 MB) within this time, regardless of the reader.
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, process.memoryUsage.rss() - rss0);
    }
    expect(peak).toBeLessThan(64 << 20);
    // Reading on gets everything.
    let files = 0;
    let bytes = 0;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (r.value.type === 'file') {
        files++;
        bytes += r.value.content?.length ?? 0;
      }
    }
    expect(files).toBe(FILES + 1);
    expect(bytes).toBe((FILES + 1) * SIZE);
  });

  it(`a copyFrom() stream of ${FILES} files of ${SIZE} bytes holds a bounded part while its reader has taken one chunk`, async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', `mkdir /flood && head -c ${SIZE} /dev/urandom > /flood/f && for i in $(seq 1 ${FILES}); do cp /flood/f /flood/f$i; done`]);
    global.gc?.();
    const rss0 = process.memoryUsage.rss();
    const stream = await c.copyFrom('/flood');
    const it = stream[Symbol.asyncIterator]();
    let bytes = ((await it.next()).value as Buffer).length;
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, process.memoryUsage.rss() - rss0);
    }
    expect(peak).toBeLessThan(64 << 20);
    for (let r = await it.next(); !r.done; r = await it.next()) bytes += (r.value as Buffer).length;
    expect(bytes).toBeGreaterThan((FILES + 1) * SIZE);
  });
});

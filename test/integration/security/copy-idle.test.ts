/**
 * Hole: a copyFrom() tar stream that its caller never reads (nor destroys) held its keeper worker until the container
 * was removed; from an exited container it also kept the container's file system mounted, and every later copy from
 * it waited for that mount forever. A copy whose reader takes nothing for a while is now given up: the worker and the
 * mount are freed, later copies run, and the stream fails with ERR_COPY_IDLE when it is read at last.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { copyOutLimits } from '../../../src/runtime/copy-idle.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, nativeOnly, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** Settles within `ms` or says it hung. */
function settles<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; hung?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<{ hung: true }>((r) => { timer = setTimeout(() => r({ hung: true }), ms); });
  return Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), hung]).finally(() => clearTimeout(timer));
}

function childCount(pid: number): number {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).length;
}

const defaultIdle = copyOutLimits.idleMs;
afterEach(() => {
  copyOutLimits.idleMs = defaultIdle;
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: an unread copy stream is given up', () => {
  nativeOnly('it counts the keeper\'s workers; on an engine the bound ends the archive GET (the next test)')('frees the worker and the mount of an exited container whose copyFrom() stream nobody reads; later copies run', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', 'head -c 48000000 /dev/urandom > /big; echo hi > /small']).start();
    await c.wait();
    const keeper = await Keeper.get();
    const base = childCount(keeper.pid);
    copyOutLimits.idleMs = 300;
    // The careless caller: takes the stream (48 MB, more than the keeper may send ahead) and never reads it.
    const unread = await c.copyFrom('/big');
    let freed = false;
    for (let i = 0; i < 200 && !(freed = childCount(keeper.pid) <= base); i++) await new Promise((r) => setTimeout(r, 50));
    // The old code kept the GET's worker for as long as the container existed.
    expect(freed).toBe(true);
    // The old code made this copy wait for the unread one's mount forever.
    const dir = await mkdtemp(join(tmpdir(), 'copy-idle-'));
    try {
      const later = c.copyFrom('/small', join(dir, 'small')).then(() => 'copied');
      const outcome = await Promise.race([later, new Promise((r) => setTimeout(r, 20_000, 'still waiting'))]);
      expect(outcome).toBe('copied');
      expect(await readFile(join(dir, 'small'), 'utf8')).toBe('hi\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const read = (async () => {
      for await (const _ of unread) void _;
    })();
    const err = await read.then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_COPY_IDLE')).toBe(true);
    expect((err as SlipwayError).hint).toMatch(/destroy\(\)/);
  });

  it('an unread copyFrom() stream of a running container is given up: execs and copies run again, and reading it is ERR_COPY_IDLE', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'head -c 48000000 /dev/urandom > /big']);
    copyOutLimits.idleMs = 300;
    const unread = await c.copyFrom('/big');
    // On an engine the GET holds Docker's lock on the container: without the bound this exec waited as long as the stream.
    const r = await settles(c.exec(['echo', 'ran']), 20_000);
    expect(r.hung).toBeUndefined();
    expect(r.value?.stdout).toBe('ran\n');
    // Natively the exec did not wait for the bound: let it pass before the stream is read.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const err = await (async () => { for await (const _ of unread) void _; })().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_COPY_IDLE')).toBe(true);
  });

  it('a destroyed copyFrom() stream ends its copy at once: an exec runs well before the idle bound', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'head -c 48000000 /dev/urandom > /big']);
    const stream = await c.copyFrom('/big');
    const it = stream[Symbol.asyncIterator]();
    expect(((await it.next()).value as Buffer).length).toBeGreaterThan(0);
    stream.destroy();
    // The bound is 60 s: an exec that waited for it would hang past this test's 20 s window.
    const r = await settles(c.exec(['echo', 'ran']), 20_000);
    expect(r.hung).toBeUndefined();
    expect(r.value?.stdout).toBe('ran\n');
    const again = await mkdtemp(join(tmpdir(), 'copy-destroyed-'));
    try {
      await c.copyFrom('/big', join(again, 'big'));
      expect((await readFile(join(again, 'big'))).length).toBe(48_000_000);
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });

  it('does not give up a reader that is slow but reads, nor a keeper that is slow to answer', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['sh', '-c', 'head -c 8000000 /dev/urandom > /big']);
    copyOutLimits.idleMs = 400;
    const sum = (await c.exec(['md5sum', '/big'])).stdout.split(' ')[0];
    const { createHash } = await import('node:crypto');
    const { extract } = await import('tar-stream');
    const hash = createHash('md5');
    const ex = extract();
    const done = new Promise<void>((resolve, reject) => {
      ex.on('entry', (_h, stream, next) => {
        stream.on('data', (d: unknown) => void hash.update(d as Buffer));
        stream.on('end', next);
        stream.resume();
      });
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    // Each pause is shorter than the bound, together far longer.
    for await (const chunk of await c.copyFrom('/big')) {
      ex.write(chunk);
      await new Promise((r) => setTimeout(r, 5));
    }
    ex.end(undefined);
    await done;
    expect(hash.digest('hex')).toBe(sum);
  });
});

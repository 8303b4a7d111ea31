// A registry that stalls, and a store that fills up, end to end: the failure is named, bounded, and leaves
// nothing behind (no process, no container dir, no half layer in the store).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { pull } from '../../../src/image/index.js';
import { fixtureRef, helperBuilt, isRoot, skipUnless, spawnTsChild, testUnless, until, userNamespacesAllowed } from '../harness/index.js';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); } catch { return false; }
}

/** A loopback server that accepts connections and never sends a byte. */
let silent: Server;
const sockets = new Set<Socket>();
let accepted = 0;
let store = '';
beforeAll(async () => {
  // Reads (and ignores) requests, so it sees the client close; never writes.
  silent = createServer((s) => { accepted++; sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); s.resume(); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  store = await mkdtemp(path.join(os.tmpdir(), 'slipway-it-faults-'));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  await rm(store, { recursive: true, force: true });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'start() needs the built helper and user namespaces')('start() against a stalling registry', () => {
  it('withPullTimeout bounds start() against a registry that never answers; nothing is left and the process exits', async () => {
    const port = (silent.address() as { port: number }).port;
    const { child, info } = await spawnTsChild<{ code?: string; message?: string; causeCode?: string; started?: boolean; keeperPid: number; keeperDir: string; containers: string[] }>(
      path.join(import.meta.dirname, 'pull-timeout-child.mts'),
      { CHILD_REF: `127.0.0.1:${port}/stall/app:1`, CHILD_PULL_TIMEOUT: '1500', SLIPWAY_CACHE_DIR: store, SLIPWAY_PULL_TIMEOUT: '' },
    );
    expect(info.started).toBeUndefined();
    expect(info.code).toBe('ERR_PULL_TIMEOUT');
    expect(info.message).toContain(`pulling 127.0.0.1:${port}/stall/app:1 did not finish within 1500 ms`);
    expect(info.message).toContain(`(the pull was aborted while fetching manifest 127.0.0.1:${port}/stall/app:1)`);
    expect(info.causeCode).toBe('ERR_ABORTED');
    expect(info.containers).toEqual([]);
    expect(accepted).toBeGreaterThan(0); // it did reach our server
    // The child exits by itself: no socket, timer or keeper pipe keeps it alive; its keeper goes with it.
    await until(() => child.exitCode !== null, 15_000);
    expect(child.exitCode).toBe(0);
    await until(() => !alive(info.keeperPid) && !existsSync(info.keeperDir), 5000);
    await until(() => sockets.size === 0, 5000); // its connections to the registry are closed
  });
});

/** Walks an error's causes. */
function causes(e: unknown): { code?: string; message: string }[] {
  const out: { code?: string; message: string }[] = [];
  for (let c = e as { code?: string; message: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) out.push(c);
  return out;
}

testUnless(isRoot(), 'filling a store needs a small tmpfs, and mounting one needs root')(
  'a store that fills up during a pull is ERR_STORE_FULL with the fix, keeps nothing half-written, and works once it has room', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-it-full-'));
    // The pull as the built package runs it (unpacking on a worker thread) and as sources run it (in this thread).
    const worker = path.resolve('node_modules/.cache', `slipway-full-worker-${process.pid}.mjs`);
    await build({ entryPoints: [path.resolve('src/image/unpack-worker.ts')], bundle: true, platform: 'node', format: 'esm', outfile: worker, packages: 'external', logLevel: 'silent' });
    const ref = fixtureRef('debian'); // a 49 MiB layer that unpacks to more
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'slipway-test-full', dir]);
    try {
      for (const [size, unpackWorker] of [['24m', worker], ['60m', null], ['60m', worker]] as const) {
        execFileSync('mount', ['-o', `remount,size=${size}`, dir]);
        const e = await pull(ref, { storeDir: dir, env: {}, policy: 'always', unpackWorker }).then(() => undefined, (x: unknown) => x);
        const what = `store ${size}, ${unpackWorker ? 'worker' : 'in-thread'}`;
        expect(SlipwayError.is(e, 'ERR_STORE_FULL'), `${what}: ${String(e)}`).toBe(true);
        const err = e as SlipwayError;
        expect(err.shortMessage).toMatch(new RegExp(`^pulling ${ref}: the image store at ${dir} is full \\(.*no space left.*\\); its filesystem has \\d+ MiB free of \\d+ MiB$`));
        expect(err.hint).toContain('`slipway prune`');
        expect(err.hint).toContain('SLIPWAY_CACHE_DIR');
        expect(causes(e).map((c) => c.code), what).toContain('ENOSPC');
        // Nothing half-written: no temp files, no layer, and no blob but the small manifest and config.
        expect(await readdir(path.join(dir, 'tmp')), what).toEqual([]);
        expect(await readdir(path.join(dir, 'layers'), { recursive: true }), what).toEqual([]);
        for (const b of await readdir(path.join(dir, 'blobs', 'sha256'))) expect((await stat(path.join(dir, 'blobs', 'sha256', b))).size).toBeLessThan(1 << 20);
        const cached = await pull(ref, { storeDir: dir, env: {}, policy: 'never' }).then(() => undefined, (x: unknown) => x);
        expect(SlipwayError.is(cached, 'ERR_IMAGE_NOT_PRESENT'), `${what}: ${String(cached)}`).toBe(true);
      }
      execFileSync('mount', ['-o', 'remount,size=600m', dir]);
      const img = await pull(ref, { storeDir: dir, env: {}, unpackWorker: worker });
      expect(readFileSync(path.join(img.layers[0]!.dir!, 'etc', 'debian_version'), 'utf8')).toMatch(/^12\./);
      expect((await stat(path.join(img.layers[0]!.dir!, 'usr', 'bin', 'bash'))).size).toBeGreaterThan(100_000);
    } finally {
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
      await rm(worker, { force: true });
    }
  });

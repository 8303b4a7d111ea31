import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, skipReason, specFor, toolsLayer } from './fixture.js';

const skip = skipReason();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** The sanitizer build's quarantine keeps freed memory resident: RSS says nothing there. */
const sanitized = (): boolean => /debug/.test(process.env.SLIPWAY_HELPER ?? '');

describe.skipIf(skip)('keeper: port forwarding under a flood', () => {
  let keeper: Keeper;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    busyboxRootfs();
    toolsLayer();
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await keeper?.close();
  });

  /** Publishes containerPort of a new isolated container running argv, and starts it. */
  async function serve(argv: string[], containerPort: number): Promise<{ id: string; port: number; upper: string }> {
    const spec = specFor(keeper, argv, { netMode: 'isolated', lowerDirs: [toolsLayer(), busyboxRootfs()] });
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'tcp', containerPort });
    await keeper.startContainer(spec.id);
    return { id: spec.id, port, upper: spec.upperDir! };
  }

  it("one container's flood does not starve another container's published port", async () => {
    const flooded = await serve(['/bin/tcp-flood', 'sink', '8080'], 8080);
    const quiet = await serve(['httpd', '-f', '-p', '8080', '-h', '/etc'], 8080);
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = (await httpGet(quiet.port, '/passwd').catch(() => '')).includes('root:x:0:0');
      if (!up) await sleep(50);
    }
    expect(up).toBe(true);

    // A sender that never stops, in a process of its own: as fast as the host goes, so the keeper's
    // relay is the slowest stage and always has bytes to move. It prints a line per 64 MiB.
    let sent = 0;
    let flood: ChildProcess | undefined;
    for (let i = 0; i < 100 && !sent; i++) {
      const c = spawn(join(toolsLayer(), 'bin', 'tcp-flood'), ['send', '127.0.0.1', String(flooded.port)], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(c);
      c.stdout!.on('data', (d: Buffer) => { sent += d.toString().split('\n').filter(Boolean).length; });
      const exited = new Promise<void>((r) => c.on('exit', () => r()));
      // Until the first 64 MiB went through, or the sink was not listening yet (reset: the sender exits).
      while (!sent && c.exitCode === null && c.signalCode === null) await Promise.race([exited, sleep(20)]);
      if (sent) flood = c;
      else await sleep(50);
    }
    expect(flood).toBeDefined();

    // Requests to the other container are answered while the flood goes on.
    const before = sent;
    for (let i = 0; i < 20; i++) expect(await httpGet(quiet.port, '/passwd')).toContain('root:x:0:0');
    expect(flood!.exitCode).toBeNull();
    // The flood was not paused for them: it kept moving (a line per 64 MiB) up to here.
    while (sent === before && flood!.exitCode === null) await sleep(20);
    expect(sent).toBeGreaterThan(before);
    flood!.kill('SIGKILL');
    await keeper.removeContainer(flooded.id);
    await keeper.removeContainer(quiet.id);
  }, 60_000);

  it('passes each half-close on alone: the container ends its side while the client still sends, then the client ends', async () => {
    const c = await serve(['/bin/tcp-flood', 'halfclose', '8080', '/tmp/got'], 8080);
    const got = join(c.upper, 'tmp', 'got');
    const SIZE = 4 * 1024 * 1024;
    // The container writes "hello" and shuts its side down; the client sees that end (and nothing
    // else) while its own side stays open, then sends SIZE bytes and ends: the container reads
    // them all and its EOF. Retried while the server is not up yet (a reset, no hello).
    let seen = '';
    for (let i = 0; i < 100 && seen !== 'hello'; i++) {
      seen = await new Promise<string>((resolve) => {
        let text = '';
        const s = connect({ port: c.port, host: '127.0.0.1', allowHalfOpen: true });
        s.setEncoding('utf8');
        s.on('data', (d: string) => { text += d; });
        s.on('end', () => {
          if (text !== 'hello') return;
          // Our side is still open: the relay passed the container's half-close on alone.
          s.end(Buffer.alloc(SIZE, 'b'), () => resolve(text));
        });
        s.on('error', () => resolve(''));
        s.on('close', () => resolve(text === 'hello' ? text : ''));
      });
      if (seen !== 'hello') await sleep(50);
    }
    expect(seen).toBe('hello');
    // Written once the container read to EOF: the client's end reached it after all the bytes.
    const read = (): string => (existsSync(got) ? readFileSync(got, 'utf8').trim() : '');
    for (let i = 0; i < 200 && !read(); i++) await sleep(25);
    expect(read()).toBe(String(SIZE));
    await keeper.removeContainer(c.id);
  }, 60_000);

  it('a client that stops reading blocks the container writer instead of making the keeper buffer', async () => {
    const c = await serve(['/bin/tcp-flood', 'source', '8080', '/tmp/count'], 8080);
    const count = (): number => {
      const f = join(c.upper, 'tmp', 'count');
      return existsSync(f) ? Number(readFileSync(f, 'utf8').trim() || 0) : 0;
    };
    // Connect until the source is up (a reset before it listens), then stop reading at once.
    let sock: Socket | undefined;
    for (let i = 0; i < 100 && !sock; i++) {
      sock = await new Promise<Socket | undefined>((resolve) => {
        const s = connect(c.port, '127.0.0.1');
        s.once('data', () => { s.pause(); resolve(s); });
        s.once('error', () => resolve(undefined));
        s.once('close', () => resolve(undefined));
      });
      if (!sock) await sleep(50);
    }
    expect(sock).toBeDefined();
    const rss0 = rssOf(keeper.pid);
    // The writer fills the socket buffers and the relay's pipe, then blocks: its count settles.
    let last = -1;
    let now = count();
    for (let i = 0; i < 100 && now !== last; i++) {
      last = now;
      await sleep(300);
      now = count();
    }
    expect(now).toBe(last);
    // Kernel buffers on both hops plus one relay pipe: tens of MiB at most, where an unbounded
    // relay would have taken gigabytes by now.
    expect(now).toBeLessThan(128 * 1024 * 1024);
    if (!sanitized()) expect(rssOf(keeper.pid) - rss0).toBeLessThan(8 * 1024 * 1024);
    // Reading again lets the writer go on.
    let got = 0;
    sock!.on('data', (d: Buffer) => { got += d.length; });
    sock!.resume();
    while (count() <= now) await sleep(20);
    expect(got).toBeGreaterThan(0);
    sock!.destroy();
    await keeper.removeContainer(c.id);
  }, 60_000);
});

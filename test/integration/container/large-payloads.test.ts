/**
 * Payloads above the keeper's 64 MiB frame limit through the public API: they used to take the
 * keeper down and every container of the process with it. They stream now, and a bystander keeps
 * serving its published port throughout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, Wait } from '../../../src/index.js';
import { fixtureRef, helperBuilt, nativeOnly, httpGet, skipUnless, userNamespacesAllowed } from '../harness/index.js';

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

  it('copyFrom of a 200 MiB file, to the host and as a tar stream, arrives intact and is streamed (the old cap was 48 MiB)', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const made = await c.exec(['sh', '-c', 'mkdir /data && dd if=/dev/urandom of=/data/big.bin bs=1M count=200 2>/dev/null && md5sum /data/big.bin']);
    expect(made.exitCode).toBe(0);
    const md5 = made.stdout.split(/\s+/)[0];
    const dir = await mkdtemp(join(tmpdir(), 'slipway-bigout-'));
    await using _dir = { [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };

    const peak = rssPeak();
    await c.copyFrom('/data/big.bin', join(dir, 'big.bin'));
    expect(await md5File(join(dir, 'big.bin'))).toBe(md5);
    const tarred = await tarEntries((await c.copyFrom('/data')) as Readable);
    expect(tarred.get('data/big.bin')).toBe(md5);
    // Streamed, not buffered: the whole file never sits in this process (the keeper holds at most 4 MiB of it).
    expect(peak.stop() / 2 ** 20).toBeLessThan(120);
  }, 180_000);

  nativeOnly('Docker locks the container while its archive is read: the exec that shrinks the file waits until the copy ends')('a file that shrinks while it is copied out fails the copy with the reason; the keeper and container carry on', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['dd', 'if=/dev/zero', 'of=/big.bin', 'bs=1M', 'count=64']);
    const stream = (await c.copyFrom('/big.bin')) as Readable;
    // Listening from the start: the stream may fail while the truncating exec runs.
    const ended = new Promise<unknown>((resolve) => { stream.on('error', resolve); stream.on('end', () => resolve(undefined)); });
    // Take one piece, let the container cut the file to nothing, then read on.
    await new Promise<void>((resolve) => stream.once('readable', () => resolve()));
    expect(stream.read()).not.toBeNull();
    expect((await c.exec(['sh', '-c', ': > /big.bin'])).exitCode).toBe(0);
    stream.resume();
    const err = await ended;
    expect(String((err as Error | undefined)?.message)).toMatch(/shrank while it was read/);
    expect((await c.exec(['echo', 'alive'])).stdout).toBe('alive\n');
  }, 120_000);

  it('a tar stream abandoned after its first bytes stops the copy; the next one works', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    await c.exec(['dd', 'if=/dev/zero', 'of=/big.bin', 'bs=1M', 'count=64']);
    const stream = (await c.copyFrom('/big.bin')) as Readable;
    await new Promise<void>((resolve) => stream.once('readable', () => resolve()));
    stream.destroy();
    const again = await tarEntries((await c.copyFrom('/big.bin')) as Readable);
    expect(again.get('big.bin')).toBe(createHash('md5').update(Buffer.alloc(64 << 20)).digest('hex'));
  }, 120_000);
});

/** The largest resident set seen from now until stop(), minus the one at the start, in bytes. */
function rssPeak(): { stop(): number } {
  const base = process.memoryUsage.rss();
  let max = base;
  const t = setInterval(() => { max = Math.max(max, process.memoryUsage.rss()); }, 10);
  return { stop: () => { clearInterval(t); return Math.max(max, process.memoryUsage.rss()) - base; } };
}

async function md5File(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** name → md5 of every file in a tar stream, hashed as it is read. */
async function tarEntries(stream: Readable): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  stream.pipe(extract);
  for await (const entry of extract) {
    const h = createHash('md5');
    for await (const chunk of entry) h.update(chunk as Buffer);
    if (entry.header.type === 'file') out.set(entry.header.name, h.digest('hex'));
  }
  return out;
}

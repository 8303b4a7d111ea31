import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container, SlipwayError, type StartedContainer } from '../../../src/index.js';
import { copyOutLimits } from '../../../src/runtime/copy-idle.js';
import { fixtureRef, helperBuilt, skipUnless, spawnTsChild, userNamespacesAllowed } from '../harness/index.js';

const roots: string[] = [];

/** A host temp dir with `in/` (copies go there) and `outside/` (nothing may ever appear in it). */
async function hostDirs(): Promise<{ into: string; outside: string }> {
  const root = await mkdtemp(join(tmpdir(), 'slipway-copyfrom-'));
  roots.push(root);
  await mkdir(join(root, 'in'));
  await mkdir(join(root, 'outside'));
  return { into: join(root, 'in'), outside: join(root, 'outside') };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'resolved', (e: unknown) => (SlipwayError.is(e) ? e.code : `not a SlipwayError: ${String(e)}`));
}

async function sh(c: StartedContainer, script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await c.exec(['sh', '-c', script], { env });
  if (r.exitCode !== 0) throw new Error(`container script failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native; see README requirements)')('copyFrom', () => {
  let c: StartedContainer;
  beforeAll(async () => { c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start(); });
  afterAll(async () => {
    await c?.remove();
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  it('attacker: twin names that are not UTF-8 (`q\\xff` symlink to the host, `q\\xfe/` dir) never lead outside the host dir', async () => {
    const { into, outside } = await hostDirs();
    // `q<i>\xff` and `q<i>\xfe` both decode to `q<i>\ufffd`. The old code made the symlink first and then
    // wrote `pwned` through it, so retry names until readdir (find's order) lists the symlink first.
    await sh(c, `set -e; i=0
      while :; do
        l="$(printf "q$i\\377")"; d="$(printf "q$i\\376")"
        mkdir /twins; ln -s "$OUTSIDE" "/twins/$l"; mkdir "/twins/$d"; echo pwned > "/twins/$d/pwned"
        [ "$(find /twins -mindepth 1 -maxdepth 1 | head -n 1)" = "/twins/$l" ] && break
        rm -rf /twins; i=$((i+1)); [ $i -lt 200 ]
      done`, { OUTSIDE: outside });
    await c.copyFrom('/twins', join(into, 'twins'));
    expect(await readdir(outside)).toEqual([]);
    const names = await readdir(join(into, 'twins'), { encoding: 'buffer' });
    expect(names).toHaveLength(2);
    const link = names.find((n) => n[n.length - 1] === 0xff)!;
    const dir = names.find((n) => n[n.length - 1] === 0xfe)!;
    const at = (n: Buffer, ...more: string[]) => Buffer.concat([Buffer.from(`${join(into, 'twins')}/`), n, Buffer.from(more.map((m) => `/${m}`).join(''))]);
    expect((await lstat(at(link))).isSymbolicLink()).toBe(true);
    expect(await readlink(at(link))).toBe(outside);
    expect(await readFile(at(dir, 'pwned'), 'utf8')).toBe('pwned\n');
  });

  it('attacker: a second copyFrom into the same host dir does not follow symlinks the first one left', async () => {
    const { into, outside } = await hostDirs();
    await sh(c, 'set -e; mkdir -p /first /second/q; ln -s "$OUTSIDE" /first/q; ln -s "$OUTSIDE/file" /first/f; echo pwned > /second/q/pwned; echo new > /second/f', { OUTSIDE: outside });
    await c.copyFrom('/first', join(into, 't'));
    expect(await readlink(join(into, 't', 'q'))).toBe(outside);
    await c.copyFrom('/second', join(into, 't'));
    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(join(into, 't', 'q'))).isDirectory()).toBe(true);
    expect(await readFile(join(into, 't', 'q', 'pwned'), 'utf8')).toBe('pwned\n');
    expect(await readFile(join(into, 't', 'f'), 'utf8')).toBe('new\n');
  });

  it('copies names that start with `..` (a Kubernetes-style `..data` projection)', async () => {
    const { into } = await hostDirs();
    await sh(c, 'set -e; mkdir -p /cfg/..2026_12_04; echo v1 > /cfg/..2026_12_04/key; ln -s ..2026_12_04 /cfg/..data; ln -s ..data/key /cfg/key');
    await c.copyFrom('/cfg', join(into, 'cfg'));
    expect((await readdir(join(into, 'cfg'))).sort()).toEqual(['..2026_12_04', '..data', 'key']);
    expect(await readlink(join(into, 'cfg', '..data'))).toBe('..2026_12_04');
    expect(await readFile(join(into, 'cfg', 'key'), 'utf8')).toBe('v1\n');
  });

  it('a missing path is ERR_COPY_SOURCE_MISSING naming it, with a hint, and creates nothing', async () => {
    const { into } = await hostDirs();
    const err = await c.copyFrom('/no/such/path', join(into, 'x')).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_COPY_SOURCE_MISSING')).toBe(true);
    expect((err as SlipwayError).message).toContain('/no/such/path');
    expect((err as SlipwayError).hint).toMatch(/exec/);
    expect(await codeOf(c.copyFrom('/no/such/path'))).toBe('ERR_COPY_SOURCE_MISSING');
    expect(await readdir(into)).toEqual([]);
  });

  it('tar stream: entries and contents; a name tar cannot carry errors the stream', async () => {
    await sh(c, 'set -e; mkdir -p /tarme/sub; echo hello > /tarme/sub/a; ln -s sub/a /tarme/link; dd if=/dev/zero of=/tarme/big bs=1M count=8 2>/dev/null');
    const seen: Record<string, string> = {};
    // Typed as a Readable without a cast (the overload without hostPath), and a real Node Readable.
    const stream: Readable = await c.copyFrom('/tarme');
    expect(stream).toBeInstanceOf(Readable);
    await untar(stream, (name, type, body) => { seen[name] = type === 'file' ? `${body.length}` : type; });
    expect(seen).toEqual({ tarme: 'directory', 'tarme/sub': 'directory', 'tarme/sub/a': '6', 'tarme/link': 'symlink', 'tarme/big': String(8 << 20) });
    await sh(c, 'set -e; mkdir -p /latin; echo x > "/latin/$(printf "n\\351")"');
    const err = await untar(await c.copyFrom('/latin'), () => {}).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_COPY_UNSAFE_PATH')).toBe(true);
  });

  it('copies a large file to the host intact', async () => {
    const { into } = await hostDirs();
    await sh(c, 'dd if=/dev/urandom of=/large bs=1M count=24 2>/dev/null; md5sum /large');
    await c.copyFrom('/large', join(into, 'large'));
    expect((await stat(join(into, 'large'))).size).toBe(24 << 20);
    const { createHash } = await import('node:crypto');
    const sum = (await sh(c, 'md5sum /large')).split(' ')[0];
    expect(createHash('md5').update(await readFile(join(into, 'large'))).digest('hex')).toBe(sum);
  });

  // On the engine the old code had no bound: the unread GET lasted until the engine gave up on it, and remove() waited for it.
  it('a stream nobody reads is given up once the idle bound passes: reading it then is ERR_COPY_IDLE', async () => {
    await sh(c, 'head -c 8000000 /dev/urandom > /idle');
    copyOutLimits.idleMs = 300;
    try {
      const unread = await c.copyFrom('/idle');
      await new Promise((r) => setTimeout(r, 1500));
      const err = await untar(unread, () => {}).catch((e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_COPY_IDLE')).toBe(true);
    } finally {
      copyOutLimits.idleMs = 60_000;
    }
    // Later copies run as before.
    const { into } = await hostDirs();
    await c.copyFrom('/idle', join(into, 'idle'));
    expect((await stat(join(into, 'idle'))).size).toBe(8000000);
  });

  // On the old code the exited container's copyFrom() crashed the child every time (and the in-flight ones in most runs).
  it('streams nobody reads (or drops after one read) do not crash the process when the container is removed', async () => {
    const { child, info } = await spawnTsChild<{ survived: boolean; unread: number; outcomes: Record<string, number> }>(join(import.meta.dirname, 'copy-from-child.mts'), { COPY_REF: fixtureRef('busybox') });
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (c) => resolve(c));
    });
    expect(info).toMatchObject({ survived: true, unread: 2 });
    // copyFrom() calls still in flight when remove() ran either got their stream or a clear error.
    expect(Object.keys(info.outcomes).filter((o) => o !== 'stream' && o !== 'ERR_CONTAINER_NOT_RUNNING')).toEqual(['exited: stream']);
    expect(code).toBe(0);
  });
});

function untar(stream: Readable, onEntry: (name: string, type: string, body: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = extract();
    x.on('entry', (h, s, next) => {
      const parts: Buffer[] = [];
      s.on('data', (d: unknown) => parts.push(d as Buffer));
      s.on('end', () => { onEntry(h.name.replace(/\/$/, ''), h.type ?? 'file', Buffer.concat(parts)); next(); });
    });
    x.on('finish', resolve);
    x.on('error', reject);
    stream.on('error', reject);
    stream.pipe(x);
  });
}

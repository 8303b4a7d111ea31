// The testcontainers-compat builder: what needs no container (validation, option mapping, utilities).
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { Container } from '../../../src/api/container.js';
import { entriesOfArchive } from '../../../src/runtime/index.js';
import { SlipwayError } from '../../../src/errors.js';
import { GenericContainer, Network, PullPolicy, RandomUuid, randomUuid, type ImagePullPolicy } from '../../../src/testcontainers.js';

/** Exposes what the builder would start. */
class Probe extends GenericContainer {
  options() { return this.container.options; }
  built(): Promise<Container> { return this.build(); }
}

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return SlipwayError.is(e) ? e.code : `not a SlipwayError: ${String(e)}`; }
  return undefined;
}

async function tarOf(entries: { name: string; type?: tar.Header['type']; mode?: number; content?: string; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', mode: e.mode, linkname: e.linkname }, e.content ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('testcontainers GenericContainer builder', () => {
  it('mutates and returns this, so statement-style configuration is kept', () => {
    const c = new Probe('redis:7');
    expect(c.withEnvironment({ A: '1' })).toBe(c);
    c.withUlimits({ nofile: { soft: 1024, hard: 2048 } });
    c.withHealthCheck({ test: ['CMD-SHELL', 'redis-cli ping'], interval: 250, timeout: 1000, retries: 3, startPeriod: 500 });
    c.withPlatform('linux/arm64');
    c.withDefaultLogDriver();
    c.withAutoCleanup(false);
    expect(c.options()).toMatchObject({
      env: { A: '1' }, ulimits: { nofile: { soft: 1024, hard: 2048 } }, platform: 'linux/arm64',
      healthcheck: { Test: ['CMD-SHELL', 'redis-cli ping'], Interval: 250e6, Timeout: 1e9, Retries: 3, StartPeriod: 500e6 },
    });
  });

  it('withResourcesQuota rounds memory up to a byte as Docker does, and takes cpu in CPUs', () => {
    const c = new Probe('redis:7').withResourcesQuota({ memory: 0.123, cpu: 0.5 });
    expect(c.options().memory).toBe(Math.ceil(0.123 * 1024 ** 3));
    expect(c.options().memory).toBe(132070245);
    expect(c.options().cpus).toBe(0.5);
  });

  it("withResourcesQuota refuses Docker's size strings: testcontainers' memory is a number of GB", () => {
    // Was "invalid memory: NaN": the value the user wrote was lost.
    expect(() => new Probe('redis:7').withResourcesQuota({ memory: '512m' as unknown as number }))
      .toThrow(/invalid withResourcesQuota memory: "512m"; fix: expected a number of gigabytes, as in testcontainers \(0\.5 is 512 MiB\)/);
    expect(() => new Probe('redis:7').withResourcesQuota({ cpu: '1' as unknown as number })).toThrow(/invalid withResourcesQuota cpu: "1"/);
  });

  it('a relative bind source says which absolute path it would be', () => {
    expect(() => new Probe('busybox').withBindMounts([{ source: 'data', target: '/data' }]))
      .toThrow(`expected an absolute host path: path.resolve("data") gives ${process.cwd()}/data from this process's working directory`);
  });

  it('withPrivilegedMode gives every capability and no seccomp filter', () => {
    const o = new Probe('redis:7').withPrivilegedMode().options();
    expect(o.seccomp).toBe('unconfined');
    expect(o.capAdd).toEqual(expect.arrayContaining(['SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'BPF']));
  });

  it('refuses what slipway cannot do with ERR_UNSUPPORTED naming the method and an alternative', () => {
    for (const mode of ['host', 'none', 'container:abc']) {
      let err: SlipwayError | undefined;
      try { new Probe('redis:7').withIpcMode(mode); } catch (e) { err = e as SlipwayError; }
      expect(err?.code).toBe('ERR_UNSUPPORTED');
      expect(err?.message).toContain(`withIpcMode("${mode}")`);
      expect(err?.hint).toMatch(/volume/);
    }
    expect(new Probe('redis:7').withIpcMode('private').withIpcMode('shareable')).toBeInstanceOf(Probe);
    expect(code(() => new Probe('redis:7').withNetworkMode('container:abc'))).toBe('ERR_UNSUPPORTED');
    expect(code(() => new Probe('redis:7').withNetworkMode('no-such-network'))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('checks health checks, ulimits and archive targets when called', () => {
    expect(code(() => new Probe('x').withHealthCheck({ test: ['redis-cli', 'ping'] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => new Probe('x').withHealthCheck({ test: ['CMD'] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => new Probe('x').withHealthCheck({ test: ['CMD-SHELL', 'true'], interval: -1 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => new Probe('x').withUlimits({ nofile: { soft: 4096, hard: 1024 } }))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => new Probe('x').withCopyArchivesToContainer([{ tar: Readable.from([]), target: 'relative' }]))).toBe('ERR_INVALID_ARGUMENT');
    expect(code(() => new Probe('x').withStartupTimeout(0))).toBeUndefined();
  });

  it('asks a pull policy at start, not when configured', async () => {
    let asked = 0;
    const policy: ImagePullPolicy = { shouldPull: () => { asked++; return true; } };
    const c = new Probe('redis:7').withPullPolicy(policy);
    expect(asked).toBe(0);
    expect((await c.built()).options.pullPolicy).toBe('always');
    expect(asked).toBe(1);
    expect((await c.withPullPolicy(PullPolicy.defaultPolicy()).built()).options.pullPolicy).toBe('missing');
    expect((await c.withPullPolicy(PullPolicy.alwaysPull()).built()).options.pullPolicy).toBe('always');
  });

  it('refuses network aliases without a user network', async () => {
    await expect(new Probe('redis:7').withNetworkAliases('db').built()).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('reads archives at start into copies', async () => {
    const archive = await tarOf([{ name: 'a.txt', content: 'A' }]);
    const built = await new Probe('redis:7').withCopyArchivesToContainer([{ tar: Readable.from([archive]), target: '/opt' }]).built();
    expect(built.options.files).toEqual([{ target: '/opt', archive, owner: undefined }]);
  });

  it('copyUIDGID gives copies without an explicit owner to the process user; noOverwriteDirNonDir is refused', async () => {
    const built = await new Probe('redis:7').withCopyContentToContainer([{ content: 'x', target: '/a' }])
      .withCopyToContainerOptions({ copyUIDGID: true }).built();
    expect(built.options.files).toEqual([{ target: '/a', content: Buffer.from('x'), mode: undefined, owner: undefined, ownerOfProcess: true }]);
    expect(code(() => new Probe('redis:7').withCopyToContainerOptions({ noOverwriteDirNonDir: true }))).toBe('ERR_UNSUPPORTED');
  });
});

describe('testcontainers utilities', () => {
  it('RandomUuid and randomUuid give distinct names usable for containers and networks', () => {
    const a = new RandomUuid().nextUuid();
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(randomUuid()).not.toBe(a);
    expect(new Network({ nextUuid: () => 'my-net-1' }).getName()).toBe('my-net-1');
    expect(new Network().getName()).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('entriesOfArchive', () => {
  const owner = { uid: 0, gid: 0 };
  it('extracts below the target: directories, files with their modes, symlinks, hard links as copies', async () => {
    const archive = await tarOf([
      { name: './', type: 'directory', mode: 0o700 },
      { name: './d/', type: 'directory', mode: 0o750 },
      { name: './d/run.sh', mode: 0o755, content: 'echo hi\n' },
      { name: 'd/link', type: 'symlink', linkname: 'run.sh' },
      { name: 'd/hard', type: 'link', linkname: './d/run.sh' },
    ]);
    const entries = await entriesOfArchive(archive, '/opt/app', owner);
    expect(entries.map((e) => [e.path, e.type, e.mode, e.content?.toString() ?? e.linkTarget])).toEqual([
      ['/opt/app/d', 'directory', 0o750, undefined],
      ['/opt/app/d/run.sh', 'file', 0o755, 'echo hi\n'],
      ['/opt/app/d/link', 'symlink', 0o777, 'run.sh'],
      ['/opt/app/d/hard', 'file', 0o755, 'echo hi\n'],
    ]);
  });
  it('keeps the headers\' uid/gid unless an owner is given', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'f', uid: 1234, gid: 2345 }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
    const archive = Buffer.concat(chunks);
    expect(await entriesOfArchive(archive, '/o')).toMatchObject([{ path: '/o/f', uid: 1234, gid: 2345 }]);
    expect(await entriesOfArchive(archive, '/o', owner)).toMatchObject([{ path: '/o/f', uid: 0, gid: 0 }]);
  });
  it('refuses entries that leave the target, and device nodes', async () => {
    await expect(entriesOfArchive(await tarOf([{ name: '../../etc/passwd', content: 'x' }]), '/opt', owner)).rejects.toMatchObject({ code: 'ERR_COPY_UNSAFE_PATH' });
    await expect(entriesOfArchive(await tarOf([{ name: 'a/../../b', content: 'x' }]), '/opt', owner)).rejects.toMatchObject({ code: 'ERR_COPY_UNSAFE_PATH' });
    await expect(entriesOfArchive(await tarOf([{ name: 'fifo', type: 'fifo' }]), '/opt', owner)).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
  });
});

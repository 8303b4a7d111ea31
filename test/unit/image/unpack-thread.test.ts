// The worker-thread unpacker, run from a bundle of src/image/unpack-worker.ts (the built package ships
// the compiled worker; sources alone unpack in-thread).
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { unpackLayerThreaded } from '../../../src/image/unpack-thread.js';
import { parseOwnershipList } from '../../../src/image/unpack.js';
import { makeLayer, sha256, type TarEntry } from './helpers/fake-registry.js';

let dir = '';
let worker = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-thread-'));
  // Inside the repo, so the bundle's external packages resolve from its node_modules.
  worker = path.resolve('node_modules/.cache', `slipway-unpack-worker-${process.pid}.mjs`);
  await build({ entryPoints: [path.resolve('src/image/unpack-worker.ts')], bundle: true, platform: 'node', format: 'esm', outfile: worker, packages: 'external', logLevel: 'silent' });
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(worker, { force: true });
});

async function* chunks(b: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += 10_000) yield b.subarray(i, i + 10_000);
}

async function run(entries: TarEntry[], over: { digest?: string } = {}): Promise<{ layerDir: string; blob: string; owners: string[]; result: unknown }> {
  const base = await mkdtemp(path.join(dir, 'run-'));
  const layerDir = path.join(base, 'layer');
  await mkdir(layerDir);
  const layer = await makeLayer(entries);
  const owners: string[] = [];
  const blob = path.join(base, 'blob');
  const result = await unpackLayerThreaded({
    source: chunks(layer.blob), dir: layerDir, digest: over.digest ?? layer.digest, diffId: layer.diffId, size: layer.blob.length,
    ownershipListPath: path.join(base, 'owners'), blob: { tempPath: path.join(base, 'blob.tmp'), path: blob },
    applyOwnership: async (_d, list) => {
      owners.push(...parseOwnershipList(await readFile(list)).map((r) => `${r.path}:${r.uid}:${r.gid}:${r.mode.toString(8)}`));
    },
    workerPath: worker,
  }).catch((e: unknown) => e);
  return { layerDir, blob, owners, result };
}

describe('unpackLayerThreaded (worker)', () => {
  it('unpacks on a worker, keeps the blob and applies ownership on the calling thread', async () => {
    const { layerDir, blob, owners, result } = await run([
      { name: 'etc/passwd', content: 'root\n' },
      { name: 'etc/.wh.shadow', content: '' },
      { name: 'home/app/', type: 'directory', uid: 1000, gid: 1000 },
      { name: 'big', content: Buffer.alloc(5_000_000, 2) },
    ]);
    expect(SlipwayError.is(result), String(result)).toBe(false);
    expect(await readFile(path.join(layerDir, 'etc/passwd'), 'utf8')).toBe('root\n');
    expect((await lstat(path.join(layerDir, 'etc/shadow'))).isCharacterDevice()).toBe(true);
    expect((await stat(path.join(layerDir, 'big'))).size).toBe(5_000_000);
    expect(owners).toEqual(['home/app:1000:1000:755']);
    expect(sha256(await readFile(blob))).toBe((result as { digest: string }).digest);
  });

  it('unpacks when node was started with a per-process flag a worker may not take (node --perf-basic-prof app.js)', async () => {
    process.execArgv.push('--perf-basic-prof', '--stack-size=2000');
    try {
      const { layerDir, result } = await run([{ name: 'etc/hostname', content: 'box\n' }]);
      expect(SlipwayError.is(result), String(result)).toBe(false);
      expect(await readFile(path.join(layerDir, 'etc/hostname'), 'utf8')).toBe('box\n');
    } finally {
      process.execArgv.splice(-2, 2);
    }
  });

  it('carries error codes back and removes the layer dir and temp blob', async () => {
    const bad = await run([{ name: 'l', type: 'symlink', linkname: '/' }, { name: 'l/x', content: 'x' }]);
    expect(SlipwayError.is(bad.result, 'ERR_UNPACK_UNSAFE_PATH')).toBe(true);
    expect((bad.result as Error).message).toContain('"l/x"');
    await expect(stat(bad.layerDir)).rejects.toThrow();
    await expect(stat(`${bad.blob}.tmp`)).rejects.toThrow();
    await expect(stat(bad.blob)).rejects.toThrow();
    const mismatch = await run([{ name: 'f', content: 'x' }], { digest: sha256('other') });
    expect(SlipwayError.is(mismatch.result, 'ERR_DIGEST_MISMATCH')).toBe(true);
    await expect(stat(mismatch.layerDir)).rejects.toThrow();
    await expect(stat(mismatch.blob)).rejects.toThrow();
  });
});

describe('unpackLayerThreaded: checks of the compressed bytes (made on the calling thread, beside the worker)', () => {
  /** Runs one layer whose bytes are `blob` (a corrupted or cut copy), as pull() would with the manifest's values. */
  async function runBytes(blob: Buffer, want: { digest: string; diffId: string; size: number }, chunk = 10_000): Promise<{ base: string; result: unknown }> {
    const base = await mkdtemp(path.join(dir, 'bytes-'));
    await mkdir(path.join(base, 'layer'));
    const result = await unpackLayerThreaded({
      source: (async function* () {
        for (let i = 0; i < blob.length; i += chunk) yield blob.subarray(i, i + chunk);
      })(),
      dir: path.join(base, 'layer'), ...want, ownershipListPath: path.join(base, 'owners'),
      blob: { tempPath: path.join(base, 'blob.tmp'), path: path.join(base, 'blob') }, applyOwnership: async () => {}, workerPath: worker,
    }).catch((e: unknown) => e);
    return { base, result };
  }
  const files = (n: number): TarEntry[] => Array.from({ length: n }, (_, i) => ({ name: `d/f${i}`, content: Buffer.alloc(3000 + i, i) }));

  it('a gzip stream corrupted in the middle is ERR_UNPACK naming the layer, and leaves no layer dir, blob or temp file', async () => {
    const layer = await makeLayer(files(200));
    const bad = Buffer.from(layer.blob);
    for (let i = bad.length >> 1; i < (bad.length >> 1) + 64; i++) bad[i] = bad[i]! ^ 0x5a;
    const { base, result } = await runBytes(bad, { digest: layer.digest, diffId: layer.diffId, size: layer.blob.length });
    expect(SlipwayError.is(result, 'ERR_UNPACK'), String(result)).toBe(true);
    expect((result as Error).message).toMatch(/not a valid \(compressed\) tar/);
    expect(await readdir(base)).toEqual([]);
  });

  it('more bytes than the manifest announced, fewer, another digest or another diff id: ERR_DIGEST_MISMATCH, nothing kept', async () => {
    const layer = await makeLayer(files(20));
    const want = { digest: layer.digest, diffId: layer.diffId, size: layer.blob.length };
    const cases: [Buffer, typeof want, RegExp][] = [
      [layer.blob, { ...want, size: layer.blob.length - 1 }, /more than the \d+ bytes the manifest announced/],
      [layer.blob, { ...want, size: layer.blob.length + 1 }, /got \d+ bytes, the manifest says \d+/],
      [layer.blob, { ...want, digest: sha256('other') }, /content digest is sha256:/],
      [layer.blob, { ...want, diffId: sha256('other') }, /differs from the config's diff id/],
    ];
    for (const [bytes, w, msg] of cases) {
      const { base, result } = await runBytes(bytes, w, 777);
      expect(SlipwayError.is(result, 'ERR_DIGEST_MISMATCH'), String(result)).toBe(true);
      expect((result as Error).message).toMatch(msg);
      expect(await readdir(base)).toEqual([]);
    }
  });

  it('chunks of any size give the same files, digest and stored blob (gathered into larger messages for the worker)', async () => {
    const layer = await makeLayer([...files(50), { name: 'big', content: Buffer.alloc(3_000_000, 7) }]);
    for (const chunk of [4096, 70_001, 300_000, layer.blob.length]) {
      const { base, result } = await runBytes(layer.blob, { digest: layer.digest, diffId: layer.diffId, size: layer.blob.length }, chunk);
      expect(SlipwayError.is(result), String(result)).toBe(false);
      expect(result).toMatchObject({ digest: layer.digest, diffId: layer.diffId, size: layer.blob.length, entries: 51 });
      expect(sha256(await readFile(path.join(base, 'blob')))).toBe(layer.digest);
      expect(await readFile(path.join(base, 'layer', 'd', 'f7'))).toEqual(Buffer.alloc(3007, 7));
      expect((await stat(path.join(base, 'layer', 'big'))).size).toBe(3_000_000);
    }
  });
});

describe('the unpack worker under node flags meant for the main script', () => {
  it('workerExecArgv drops --input-type, eval/print, preloads, loaders, watch/test and the inspector, keeping the rest', async () => {
    const { workerExecArgv } = await import('../../../src/image/unpack-thread.js');
    expect(workerExecArgv(['--input-type=module', '-e', 'code', '--max-old-space-size=512'])).toEqual(['--max-old-space-size=512']);
    expect(workerExecArgv(['--input-type', 'module', '--no-warnings', '--print', 'x'])).toEqual(['--no-warnings']);
    expect(workerExecArgv(['--import', 'tsx', '-r', './hook.cjs', '--loader=ts-node/esm', '--experimental-loader', 'x.mjs', '--expose-gc'])).toEqual(['--expose-gc']);
    expect(workerExecArgv(['--inspect-brk=9229', '--inspect-port', '9230', '--watch', '--test-reporter', 'spec', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
  });

  it('a pull run by `node --input-type=module -e` unpacks on the worker (it inherited the flag and died before)', async () => {
    const layer = await makeLayer([{ name: 'etc/os-release', content: 'ID=fake\n' }]);
    const base = await mkdtemp(path.join(dir, 'eval-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(base, 'layer.tgz'), layer.blob);
    await mkdir(path.join(base, 'layer'));
    const entry = path.resolve('node_modules/.cache', `slipway-unpack-thread-${process.pid}.mjs`);
    await build({ entryPoints: [path.resolve('src/image/unpack-thread.ts')], bundle: true, platform: 'node', format: 'esm', outfile: entry, packages: 'external', logLevel: 'silent' });
    try {
      const script = `
        import { readFile } from 'node:fs/promises';
        import { unpackLayerThreaded } from ${JSON.stringify(entry)};
        const blob = await readFile(${JSON.stringify(path.join(base, 'layer.tgz'))});
        const r = await unpackLayerThreaded({ source: (async function* () { yield blob; })(), dir: ${JSON.stringify(path.join(base, 'layer'))},
          digest: ${JSON.stringify(layer.digest)}, diffId: ${JSON.stringify(layer.diffId)}, size: blob.length,
          ownershipListPath: ${JSON.stringify(path.join(base, 'owners'))}, applyOwnership: async () => {}, workerPath: ${JSON.stringify(worker)} });
        console.log(JSON.stringify({ entries: r.entries }));`;
      const { execFile } = await import('node:child_process');
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: path.resolve('.') }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toEqual({ entries: expect.any(Number) });
      expect(await readFile(path.join(base, 'layer', 'etc/os-release'), 'utf8')).toBe('ID=fake\n');
    } finally {
      await rm(entry, { force: true });
    }
  });
});

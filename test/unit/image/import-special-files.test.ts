/**
 * `oci-layout:` directories and `docker-archive:` files are read from wherever the caller points, often a tree
 * someone else unpacked: a FIFO (or device) where a file should be was read with a plain open, which waits for a
 * writer forever and holds one of libuv's four threadpool threads with it (the pull timeout ends the promise, not the
 * read: four such pulls stop every fs call of the process). They are refused at once, without waiting.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pull } from '../../../src/image/pull.js';

const root = mkdtempSync(join(tmpdir(), 'slipway-import-special-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const storeDir = join(root, 'store');
const fifo = (p: string): void => { execFileSync('mkfifo', [p]); };

it('an oci-layout whose index.json is a FIFO is refused, not waited on', async () => {
  const dir = join(root, 'layout-index');
  mkdirSync(dir);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fifo(join(dir, 'index.json'));
  await expect(pull(`oci-layout:${dir}`, { storeDir })).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining('not a regular file') });
});

it('an oci-layout whose manifest blob is a FIFO is refused, not waited on', async () => {
  const dir = join(root, 'layout-blob');
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const digest = `sha256:${'a'.repeat(64)}`;
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 100, platform: { os: 'linux', architecture: 'amd64' } }] }));
  fifo(join(dir, 'blobs', 'sha256', 'a'.repeat(64)));
  await expect(pull(`oci-layout:${dir}`, { storeDir })).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining('not a regular file') });
});

it('a docker-archive that is a FIFO is refused, not waited on', async () => {
  const f = join(root, 'archive.tar');
  fifo(f);
  await expect(pull(`docker-archive:${f}`, { storeDir })).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining('not a regular file') });
});

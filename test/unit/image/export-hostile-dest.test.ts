/**
 * The attacker is another local user who knows where a careless caller exports to (the documented examples write
 * `docker-archive:/tmp/app.tar` and `oci-layout:/tmp/app-oci`): they plant a symbolic link at the name the export
 * writes through (its predictable temp file, the layout's `oci-layout` file, its `blobs` dir) or make the layout dir
 * themselves, so the export (as root: any file) overwrites a file of theirs choosing. Nothing outside the destination
 * may be written: the temp files are created exclusively, without following links, and a layout dir someone else owns
 * or may write is refused.
 */
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { exportImage } from '../../../src/image/export.js';
import { writeLocalImage } from '../../../src/image/local-image.js';
import { hostPlatform } from '../../../src/image/platform.js';
import { ImageStore } from '../../../src/image/store.js';

const tmps: string[] = [];
afterEach(async () => {
  await Promise.all(tmps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), prefix));
  tmps.push(d);
  return d;
}

const REF = 'slipway-test/export-hostile:1';

async function storeWithImage(): Promise<string> {
  const dir = await tempDir('slipway-export-store-');
  await writeLocalImage(new ImageStore(dir), { platform: hostPlatform(), config: { Cmd: ['true'] }, layers: [], history: [], tag: REF, defaultName: 'x', storeDir: dir });
  return dir;
}

/** A file of the victim's that the attacker wants overwritten. */
async function victimFile(): Promise<string> {
  const f = path.join(await tempDir('slipway-export-victim-'), 'authorized_keys');
  writeFileSync(f, 'ssh-ed25519 AAAA victim\n');
  return f;
}

const asRoot = process.getuid?.() === 0;

it('a symlink planted at the docker archive\'s temp name is not followed', async () => {
  const storeDir = await storeWithImage();
  const shared = await tempDir('slipway-export-shared-');
  chmodSync(shared, 0o1777); // a /tmp of its own: sticky, everyone writes
  const victim = await victimFile();
  const out = path.join(shared, 'app.tar');
  symlinkSync(victim, `${out}.tmp-${process.pid}`); // the name the old code wrote through
  const r = await exportImage(REF, `docker-archive:${out}`, { storeDir }).catch((e: unknown) => e);
  expect(readFileSync(victim, 'utf8')).toBe('ssh-ed25519 AAAA victim\n');
  if (!(r instanceof Error)) expect(readFileSync(out).subarray(0, 512).toString('latin1')).toContain('blobs/');
});

it('a symlink planted as the layout\'s oci-layout file or blobs dir is not written through', async () => {
  const storeDir = await storeWithImage();
  const victim = await victimFile();
  const layout = path.join(await tempDir('slipway-export-layout-'), 'app-oci');
  mkdirSync(layout);
  symlinkSync(victim, path.join(layout, 'oci-layout'));
  const victimDir = await tempDir('slipway-export-victim-dir-');
  symlinkSync(victimDir, path.join(layout, 'blobs'));
  const r = await exportImage(REF, `oci-layout:${layout}`, { storeDir }).catch((e: unknown) => e);
  expect(readFileSync(victim, 'utf8')).toBe('ssh-ed25519 AAAA victim\n');
  expect(readdirSync(victimDir)).toEqual([]);
  expect(r).toBeInstanceOf(SlipwayError);
  expect((r as SlipwayError).code).toBe('ERR_INVALID_ARGUMENT');
  expect((r as SlipwayError).message).toContain('blobs');
});

it.skipIf(!asRoot)('a layout dir another user made (and may write) is refused before anything is written', async () => {
  const storeDir = await storeWithImage();
  const victim = await victimFile();
  const shared = await tempDir('slipway-export-shared-');
  chmodSync(shared, 0o1777);
  const layout = path.join(shared, 'app-oci'); // made by the attacker (nobody), open to all
  mkdirSync(layout, { mode: 0o777 });
  chmodSync(layout, 0o777);
  chownSync(layout, 65534, 65534);
  const link = path.join(layout, 'oci-layout.tmp'); // whatever the attacker plants later, they can swap at will
  symlinkSync(victim, link);
  lchownSync(link, 65534, 65534);
  const r = await exportImage(REF, `oci-layout:${layout}`, { storeDir }).catch((e: unknown) => e);
  expect(r).toBeInstanceOf(SlipwayError);
  expect((r as SlipwayError).code).toBe('ERR_INVALID_ARGUMENT');
  expect((r as SlipwayError).message).toContain('owned by uid 65534');
  expect((r as SlipwayError).hint).toMatch(/export into a directory/);
  expect(existsSync(path.join(layout, 'index.json'))).toBe(false);
  expect(readFileSync(victim, 'utf8')).toBe('ssh-ed25519 AAAA victim\n');
});

it('a layout dir of our own that every user may write is refused too; a new one is made private to us', async () => {
  const storeDir = await storeWithImage();
  const base = await tempDir('slipway-export-open-');
  const open = path.join(base, 'open-oci');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const r = await exportImage(REF, `oci-layout:${open}`, { storeDir }).catch((e: unknown) => e);
  expect((r as SlipwayError).code).toBe('ERR_INVALID_ARGUMENT');
  expect((r as SlipwayError).message).toContain('writable by every user');
  const fresh = path.join(base, 'new', 'app-oci');
  const ok = await exportImage(REF, `oci-layout:${fresh}`, { storeDir });
  expect(ok.dest).toBe(`oci-layout:${fresh}:1`);
  expect(JSON.parse(readFileSync(path.join(fresh, 'index.json'), 'utf8')).manifests).toHaveLength(1);
  expect(readdirSync(fresh).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  // exporting again into the same layout (ours) still works, and leaves no temp files behind
  await exportImage(REF, `oci-layout:${fresh}:2`, { storeDir });
  expect(JSON.parse(readFileSync(path.join(fresh, 'index.json'), 'utf8')).manifests).toHaveLength(2);
  expect(readdirSync(fresh).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  expect(readdirSync(path.join(fresh, 'blobs', 'sha256')).every((n) => /^[a-f0-9]{64}$/.test(n))).toBe(true);
});

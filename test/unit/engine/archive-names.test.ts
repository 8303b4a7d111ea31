/**
 * archiveWithoutNames (runtime/engine/archive-names.ts): the docker-archive stream the engine loads carries no names of
 * its own (RepoTags, `repositories`, index.json's name annotations), layers pass through byte for byte, and the ways a
 * hostile archive could make the engine read a names file we did not rewrite are refused: a link named manifest.json,
 * an entry under a link (`d -> .` then `d/manifest.json`); `x/../manifest.json` is the manifest and is rewritten too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { extract, pack } from 'tar-stream';
import { archiveWithoutNames } from '../../../src/runtime/engine/archive-names.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-archive-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Entry = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; body?: string; linkname?: string };

async function tarFile(entries: Entry[]): Promise<string> {
  const p = pack();
  for (const e of entries) {
    if (e.type && e.type !== 'file') p.entry({ name: e.name, type: e.type, ...(e.linkname ? { linkname: e.linkname } : {}) });
    else p.entry({ name: e.name }, e.body ?? '');
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const f = join(dir, `${Math.random().toString(36).slice(2)}.tar`);
  writeFileSync(f, Buffer.concat(chunks));
  return f;
}

async function entriesOf(file: string): Promise<Map<string, string>> {
  const bytes: Buffer[] = [];
  for await (const c of archiveWithoutNames(file)) bytes.push(c as Buffer);
  const ex = extract();
  const out = new Map<string, string>();
  ex.end(Buffer.concat(bytes));
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, Buffer.concat(chunks).toString());
  }
  return out;
}

const manifest = JSON.stringify([{ Config: 'abc.json', RepoTags: ['postgres:16', 'redis:7'], Layers: ['l1/layer.tar'] }]);

it('clears RepoTags, drops repositories, strips index.json names, passes layers through', async () => {
  const index = JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 'sha256:x', annotations: { 'io.containerd.image.name': 'docker.io/library/postgres:16', 'org.opencontainers.image.ref.name': '16', other: 'kept' } }] });
  const f = await tarFile([
    { name: 'l1/', type: 'directory' }, { name: 'l1/layer.tar', body: 'LAYER BYTES' }, { name: 'abc.json', body: '{"config":{}}' },
    { name: 'index.json', body: index }, { name: 'manifest.json', body: manifest }, { name: 'repositories', body: '{"postgres":{"16":"abc"}}' },
  ]);
  const out = await entriesOf(f);
  expect([...out.keys()]).toEqual(['l1/', 'l1/layer.tar', 'abc.json', 'index.json', 'manifest.json']);
  expect(out.get('l1/layer.tar')).toBe('LAYER BYTES');
  expect(JSON.parse(out.get('manifest.json')!)).toEqual([{ Config: 'abc.json', RepoTags: null, Layers: ['l1/layer.tar'] }]);
  expect(JSON.parse(out.get('index.json')!).manifests[0].annotations).toEqual({ other: 'kept' });
});

it('rewrites the manifest under a name the engine folds to manifest.json', async () => {
  const out = await entriesOf(await tarFile([{ name: 'x/', type: 'directory' }, { name: './x/../manifest.json', body: manifest }]));
  const m = [...out].find(([n]) => n.endsWith('manifest.json'))!;
  expect(JSON.parse(m[1])[0].RepoTags).toBeNull();
});

it.each([
  ['manifest.json as a symlink', [{ name: 'evil.json', body: manifest }, { name: 'manifest.json', type: 'symlink', linkname: 'evil.json' }]],
  ['manifest.json as a hard link', [{ name: 'evil.json', body: manifest }, { name: 'manifest.json', type: 'link', linkname: 'evil.json' }]],
  ['manifest.json under a directory link', [{ name: 'd', type: 'symlink', linkname: '.' }, { name: 'd/manifest.json', body: manifest }]],
  ['an entry out of the archive', [{ name: '../manifest.json', body: manifest }]],
] as [string, Entry[]][])('refuses %s with ERR_MANIFEST_INVALID', async (_what, entries) => {
  await expect(entriesOf(await tarFile(entries))).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID' });
});

it('refuses a manifest.json that is not JSON (the engine must not read names from it)', async () => {
  await expect(entriesOf(await tarFile([{ name: 'manifest.json', body: '[{"RepoTags":["a:1"]' }]))).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID' });
});

/** Helpers of the build tests: throwaway contexts, what a container of the image sees, the stored config. */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll } from 'vitest';
import { Container, SlipwayError, Wait } from '../../../src/index.js';
import { pull } from '../../../src/image/index.js';
import { defaultStoreRoot, ImageStore } from '../../../src/image/store.js';
import { engineRuntime } from '../harness/index.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

/** A context dir with the given files (a string is content; `{ mode }` sets it; `{ link }` makes a symlink). */
export async function context(files: Record<string, string | Buffer | { content?: string | Buffer; mode?: number; link?: string }>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-build-'));
  roots.push(dir);
  for (const [name, spec] of Object.entries(files)) {
    const p = join(dir, name);
    await mkdir(join(p, '..'), { recursive: true });
    const s = typeof spec === 'string' || Buffer.isBuffer(spec) ? { content: spec } : spec;
    if (s.link !== undefined) {
      await symlink(s.link, p);
      continue;
    }
    await writeFile(p, s.content ?? '');
    if (s.mode !== undefined) await chmod(p, s.mode);
  }
  return dir;
}

/** `mode uid:gid type` of paths inside the image and the content of small files, read by a container of it. */
export async function inspect(ref: string, paths: string[]): Promise<Record<string, string>> {
  const c = await new Container(ref).withEntrypoint(['sleep']).withCommand(['1000']).withUser('0').waitFor(Wait.none()).start();
  try {
    const out: Record<string, string> = {};
    for (const p of paths) {
      const r = await c.exec(['sh', '-c', `stat -c '%a %u:%g %F' "$1" && if [ -f "$1" ] && [ ! -L "$1" ] && [ "$(stat -c %s "$1")" -lt 1000 ]; then cat "$1"; fi`, 'sh', p]);
      out[p] = r.exitCode === 0 ? r.stdout.trim() : 'absent';
    }
    return out;
  } finally {
    await c.remove();
  }
}

/** The image config a build stored (through its manifest). */
export interface ConfigFile {
  architecture: string;
  os: string;
  variant?: string;
  config: { OnBuild?: string[]; Env?: string[] };
  rootfs: { diff_ids: string[] };
  history: { created_by: string; empty_layer?: boolean }[];
}

/**
 * The full image config a build stored (through its manifest). On the engine runtime the engine's view of it
 * (`docker image inspect`, `docker history`: `empty_layer` is not shown there; a nil list is absent, as in the JSON).
 */
export async function configFile(ref: string, platform?: string): Promise<ConfigFile> {
  if (engineRuntime()) {
    const [img] = JSON.parse(execFileSync('docker', ['image', 'inspect', ref], { encoding: 'utf8' })) as {
      Architecture: string; Os: string; Variant?: string; Config: { OnBuild?: string[] | null; Env?: string[] | null }; RootFS: { Layers?: string[] };
    }[];
    const history = execFileSync('docker', ['history', '--no-trunc', '--format', '{{.CreatedBy}}', ref], { encoding: 'utf8' })
      .split('\n').filter(Boolean).reverse().map((created_by) => ({ created_by }));
    return {
      architecture: img!.Architecture, os: img!.Os, variant: img!.Variant,
      config: { OnBuild: img!.Config.OnBuild ?? undefined, Env: img!.Config.Env ?? undefined },
      rootfs: { diff_ids: img!.RootFS.Layers ?? [] }, history,
    };
  }
  const store = new ImageStore(defaultStoreRoot());
  const manifest = JSON.parse((await store.readBlob((await pull(ref, { policy: 'never', platform })).manifestDigest))!.toString()) as { config: { digest: string } };
  return JSON.parse((await store.readBlob(manifest.config.digest))!.toString()) as ConfigFile;
}

/** The code of the error a promise rejects with (`resolved` when it does not). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'resolved', (e: unknown) => (SlipwayError.is(e) ? e.code : `not a SlipwayError: ${String(e)}`));
}

/**
 * Files below `dir` (recursively, symlinks not followed) whose bytes contain `needle`; unreadable entries are skipped
 * and counted (rootless, unpacked layers hold files of subordinate ids).
 */
export async function filesContaining(dir: string, needle: Buffer): Promise<{ hits: string[]; read: number }> {
  const hits: string[] = [];
  let read = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const b = await readFile(p).catch(() => undefined);
        if (!b) continue;
        read++;
        if (b.includes(needle)) hits.push(p);
      }
    }
  };
  await walk(dir);
  return { hits, read };
}

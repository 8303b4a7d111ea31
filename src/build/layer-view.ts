/**
 * A read-only merged view of unpacked layers (overlay format: whiteouts are 0/0 character devices, opaque
 * directories carry `user.overlay.opaque`), read on the host before any container runs: where COPY's destination
 * lands (symlinks in the path resolved inside the image, as Docker does) and what `COPY --from` reads.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { lgetxattr } from '../image/syscalls.js';
import { SlipwayError } from '../errors.js';

/** An entry found in the view. */
export interface ViewEntry {
  /** Host path of the entry in the topmost layer that has it. */
  path: string;
  st: Stats;
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(p: string): boolean {
  try {
    return lgetxattr(p, 'user.overlay.opaque')?.toString() === 'y';
  } catch {
    return false;
  }
}

export class LayerView {
  // Layers never change once unpacked: what one walk learnt (lstat, opaque marks) serves the next lookups. A COPY
  // --from of a 150-file node_modules looked each ancestor up again per entry (bench scenario 9).
  readonly #stats = new Map<string, Promise<Stats | undefined>>();
  readonly #opaque = new Map<string, boolean>();

  /** @param dirsTopFirst - unpacked layer directories, topmost first */
  constructor(readonly dirsTopFirst: readonly string[]) {}

  #lstat(p: string): Promise<Stats | undefined> {
    let st = this.#stats.get(p);
    if (!st) {
      st = lstat(p).catch(() => undefined);
      this.#stats.set(p, st);
    }
    return st;
  }

  #isOpaque(p: string): boolean {
    let o = this.#opaque.get(p);
    if (o === undefined) {
      o = isOpaque(p);
      this.#opaque.set(p, o);
    }
    return o;
  }

  /**
   * Where `parts` stand in one layer: `found` (the entry), `absent` (lower layers decide), or `hidden` (an
   * ancestor this layer has as anything but a plain directory — a file, a symlink, a whiteout — or an opaque
   * directory, hides the path in every lower layer). Ancestors are checked with lstat one by one, so a
   * symlink inside a layer is never followed on the host.
   */
  async #inLayer(dir: string, parts: readonly string[]): Promise<{ kind: 'found'; entry: ViewEntry } | { kind: 'absent' | 'hidden' }> {
    let cur = dir;
    let opaque = false;
    for (let i = 0; i < parts.length; i++) {
      cur = join(cur, parts[i]!);
      const st = await this.#lstat(cur);
      if (!st) return { kind: opaque ? 'hidden' : 'absent' };
      if (i === parts.length - 1) return isWhiteout(st) ? { kind: 'hidden' } : { kind: 'found', entry: { path: cur, st } };
      if (!st.isDirectory()) return { kind: 'hidden' };
      opaque ||= this.#isOpaque(cur);
    }
    return { kind: 'absent' };
  }

  /** The entry at `rel` (no link followed), or undefined. */
  async lookup(rel: string): Promise<ViewEntry | undefined> {
    const parts = rel.split('/').filter((c) => c && c !== '.');
    if (parts.includes('..')) return undefined;
    if (parts.length === 0) return this.dirsTopFirst.length ? { path: this.dirsTopFirst[0]!, st: await lstat(this.dirsTopFirst[0]!) } : undefined;
    for (const dir of this.dirsTopFirst) {
      const r = await this.#inLayer(dir, parts);
      if (r.kind === 'found') return r.entry;
      if (r.kind === 'hidden') return undefined;
    }
    return undefined;
  }

  /** Names in directory `rel`, merged over the layers. */
  async list(rel: string): Promise<string[]> {
    const parts = rel.split('/').filter((c) => c && c !== '.');
    if (parts.includes('..')) return [];
    const names = new Set<string>();
    const hidden = new Set<string>();
    for (const dir of this.dirsTopFirst) {
      let p = dir;
      if (parts.length) {
        const r = await this.#inLayer(dir, parts);
        if (r.kind !== 'found') {
          if (r.kind === 'hidden') break;
          continue;
        }
        if (!r.entry.st.isDirectory()) break;
        p = r.entry.path;
      }
      for (const n of await readdir(p)) {
        if (names.has(n) || hidden.has(n)) continue;
        const s = await this.#lstat(join(p, n));
        if (!s) continue;
        if (isWhiteout(s)) hidden.add(n);
        else names.add(n);
      }
      if (this.#isOpaque(p)) break;
    }
    return [...names].sort();
  }

  /**
   * Resolves symlinks in `abs` (an absolute path in the image) the way a container would see them, staying inside
   * the image's root; the last component is followed only when `followLast`. Returns a relative path (no leading `/`).
   */
  async resolve(abs: string, followLast = false): Promise<string> {
    let todo = abs.split('/').filter((c) => c && c !== '.');
    const done: string[] = [];
    let hops = 0;
    while (todo.length) {
      const c = todo.shift()!;
      if (c === '..') {
        done.pop();
        continue;
      }
      const rel = [...done, c].join('/');
      const e = todo.length || followLast ? await this.lookup(rel) : undefined;
      if (e?.st.isSymbolicLink()) {
        if (++hops > 40) throw new SlipwayError('ERR_BUILD', `too many symbolic links resolving ${abs} in the image`, { hint: 'fix the symlink loop in the image' });
        const target = await readlink(e.path);
        if (target.startsWith('/')) done.length = 0;
        todo = [...target.split('/').filter((x) => x && x !== '.'), ...todo];
        continue;
      }
      done.push(c);
    }
    return posix.normalize(done.join('/') || '.').replace(/^\.$/, '');
  }
}

/**
 * `.dockerignore` as Docker reads it (moby/patternmatcher): one pattern a line, `#` comments, `!` exceptions,
 * patterns cleaned like Go's `filepath.Clean` with the leading `/` dropped, `*` and `?` never crossing `/`, `**`
 * any number of directories, `\` escapes; the last matching pattern decides, and a path is excluded when a pattern
 * matches it or one of its parent directories.
 */
import { join, posix } from 'node:path';
import { SlipwayError } from '../errors.js';
import { readInputFile } from '../internal/read-input-file.js';

/** One compiled pattern. */
export interface IgnorePattern {
  pattern: string;
  exclusion: boolean;
  re: RegExp;
}

/** Go's `filepath.Clean` for slash paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const c = posix.normalize(p);
  return c.length > 1 ? c.replace(/\/+$/, '') : c;
}

const SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/** Compiles a Docker pattern (already cleaned) to an anchored regular expression. */
export function compilePattern(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '\\') {
      if (i + 1 < pattern.length) re += `\\${pattern[++i]!}`;
      else re += '\\\\';
    } else if (c === '[') {
      // A character class, Go style: [^…] / [!…] negate.
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (SPECIAL.has(c) || c === ']') {
      re += `\\${c}`;
    } else {
      re += c;
    }
  }
  return new RegExp(`${re}$`, 's');
}

/** Parses `.dockerignore` text into patterns, in order. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (!p) continue;
    let exclusion = false;
    if (p.startsWith('!')) {
      exclusion = true;
      p = p.slice(1).trim();
      if (!p) continue;
    }
    p = cleanPath(p);
    if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    out.push({ pattern: p, exclusion, re: compilePattern(p) });
  }
  return out;
}

/** Whether `rel` (a slash path relative to the context, no leading `/`) is excluded by the patterns. */
export function isIgnored(patterns: readonly IgnorePattern[], rel: string): boolean {
  const file = cleanPath(rel);
  const parent = posix.dirname(file);
  const parentDirs = parent === '.' ? [] : parent.split('/');
  let matched = false;
  for (const p of patterns) {
    // An inclusion cannot change a matched path, an exclusion an unmatched one.
    if (p.exclusion !== matched) continue;
    let match = p.re.test(file);
    for (let i = 0; !match && i < parentDirs.length; i++) match = p.re.test(parentDirs.slice(0, i + 1).join('/'));
    if (match) matched = !p.exclusion;
  }
  return matched;
}

/** Whether some exception pattern might re-include a path below directory `dir` (so a walk must enter it). */
export function mayReinclude(patterns: readonly IgnorePattern[], dir: string): boolean {
  return patterns.some((p) => p.exclusion && (p.pattern.startsWith(`${dir}/`) || /[*?[\\]/.test(p.pattern)));
}

/**
 * The context's `.dockerignore` as text, or `''` when there is none. Anything else that keeps it from being read (a
 * FIFO, which would hang the read, a device, no permission) fails the build: building without it would send what it
 * excludes (`.env`, keys) into the image.
 * @throws SlipwayError `ERR_BUILD_CONTEXT`
 */
export async function readDockerignore(context: string): Promise<string> {
  const file = join(context, '.dockerignore');
  return readInputFile(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new SlipwayError('ERR_BUILD_CONTEXT', `cannot read ${file}: ${e.message}`, {
      hint: 'make .dockerignore a readable regular file (or remove it): without it, the files it excludes would be sent to the build', cause: e,
    });
  });
}

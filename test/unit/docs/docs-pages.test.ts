// The user-facing pages: links resolve inside the npm tarball (the npm page has nothing else), troubleshooting quotes
// hints slipway really prints, and every code a page names exists.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS_TS, parseErrorCodes } from '../../../scripts/gen-errors-doc.mjs';

const ROOT = join(import.meta.dirname, '../../..');
const PAGES = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const CODES = new Set(parseErrorCodes(readFileSync(ERRORS_TS, 'utf8')).map((c) => c.code));

function read(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8');
}

/** Markdown link targets outside code blocks. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** What a heading's anchor is on GitHub and npm: lowercase, punctuation dropped, spaces to dashes. */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

function srcFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? srcFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('documentation pages', () => {
  it('link only to files the npm tarball contains, and to headings that exist', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const packed = new Set<string>((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const problems: string[] = [];
    for (const page of PAGES) {
      expect(packed, `${page} is not in the tarball (package.json "files")`).toContain(page);
      for (const link of links(read(page))) {
        if (/^(https?:|mailto:)/.test(link)) continue;
        const [file = '', anchor] = link.split('#');
        const target = file ? normalize(relative(ROOT, join(ROOT, dirname(page), file))) : page;
        if (!packed.has(target)) problems.push(`${page}: ${link} → ${target} is not in the tarball`);
        else if (anchor && target.endsWith('.md') && !anchors(read(target)).has(anchor)) problems.push(`${page}: ${link}: no heading #${anchor}`);
      }
    }
    expect(problems).toEqual([]);
  }, 120_000); // npm pack --dry-run took 42-67 s at load 30

  it('name only error codes that exist', () => {
    for (const page of PAGES) {
      for (const m of read(page).matchAll(/\bERR_[A-Z0-9_]+\b/g)) expect(CODES, `${page} names ${m[0]}`).toContain(m[0]);
    }
  });

  it('troubleshooting quotes hints that slipway prints, each under an entry that names a code or a symptom', () => {
    const src = srcFiles(join(ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const hints = [...read('docs/troubleshooting.md').matchAll(/^> hint: (.+)$/gm)].map((m) => m[1]!);
    expect(hints.length).toBeGreaterThan(10);
    for (const hint of hints) expect(src.includes(hint), `no hint in src/ contains: ${hint}`).toBe(true);
  });

  it('the LICENSE is the Apache-2.0 text package.json names', () => {
    expect(JSON.parse(read('package.json')).license).toBe('Apache-2.0');
    expect(existsSync(join(ROOT, 'LICENSE'))).toBe(true);
    expect(read('LICENSE')).toContain('Apache License\n                           Version 2.0, January 2004');
  });
});

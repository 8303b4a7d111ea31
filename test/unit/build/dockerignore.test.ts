import { describe, expect, it } from 'vitest';
import { isIgnored, parseDockerignore } from '../../../src/build/dockerignore.js';

const ignored = (rules: string, path: string): boolean => isIgnored(parseDockerignore(rules), path);

describe('.dockerignore (moby/patternmatcher rules)', () => {
  it('plain names match the path or any parent directory', () => {
    expect(ignored('node_modules', 'node_modules')).toBe(true);
    expect(ignored('node_modules', 'node_modules/a/b.js')).toBe(true);
    expect(ignored('node_modules', 'src/node_modules/a.js')).toBe(false);
  });

  it('* and ? stay within one component; ** spans any number (even none)', () => {
    expect(ignored('*.md', 'README.md')).toBe(true);
    expect(ignored('*.md', 'docs/README.md')).toBe(false);
    expect(ignored('*/*.md', 'docs/README.md')).toBe(true);
    expect(ignored('**/*.md', 'docs/a/README.md')).toBe(true);
    expect(ignored('**/*.md', 'README.md')).toBe(true);
    expect(ignored('a?c', 'abc')).toBe(true);
    expect(ignored('a?c', 'a/c')).toBe(false);
    expect(ignored('docs/**', 'docs/x/y')).toBe(true);
    expect(ignored('[a-c]*.txt', 'b1.txt')).toBe(true);
    expect(ignored('[!a-c]*.txt', 'b1.txt')).toBe(false);
  });

  it('the last matching pattern wins; ! re-includes', () => {
    const rules = '*.md\n!README.md\n';
    expect(ignored(rules, 'CHANGES.md')).toBe(true);
    expect(ignored(rules, 'README.md')).toBe(false);
    expect(ignored('!README.md\n*.md', 'README.md')).toBe(true);
    expect(ignored('docs\n!docs/keep.txt', 'docs/keep.txt')).toBe(false);
    expect(ignored('docs\n!docs/keep.txt', 'docs/other.txt')).toBe(true);
  });

  it('cleans patterns: leading /, ./ and trailing / are dropped; comments and blanks skipped', () => {
    expect(ignored('/build/', 'build/out.o')).toBe(true);
    expect(ignored('./tmp', 'tmp')).toBe(true);
    expect(ignored('# tmp\n\n   ', 'tmp')).toBe(false);
    expect(ignored('a/../b', 'b')).toBe(true);
  });

  it('regex specials are literal and \\ escapes', () => {
    expect(ignored('a.b', 'axb')).toBe(false);
    expect(ignored('a.b', 'a.b')).toBe(true);
    expect(ignored('\\*x', '*x')).toBe(true);
    expect(ignored('\\*x', 'ax')).toBe(false);
    expect(ignored('(x)', '(x)')).toBe(true);
  });
});

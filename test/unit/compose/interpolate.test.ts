// Interpolation as the Compose Specification's interpolation.md states it, case by case.
import { describe, expect, it } from 'vitest';
import { interpolate } from '../../../src/compose/interpolate.js';
import { parseEnvFile } from '../../../src/compose/env-file.js';
import { SlipwayError } from '../../../src/errors.js';

const vars = { SET: 'value', EMPTY: '', TAG: '7', NESTED: 'n' };
const i = (s: string, v: Record<string, string | undefined> = vars) => interpolate(s, v, 'test');

describe('interpolate', () => {
  it('substitutes $VAR and ${VAR}; an unset one is empty and reported', () => {
    const unset: string[] = [];
    expect(i('redis:$TAG')).toBe('redis:7');
    expect(i('redis:${TAG}-x')).toBe('redis:7-x');
    expect(interpolate('a${NOPE}b$NOPE2', vars, 't', (n) => unset.push(n))).toBe('ab');
    expect(unset).toEqual(['NOPE', 'NOPE2']);
  });

  it(':- takes the default when unset or empty, - only when unset', () => {
    expect(i('${SET:-d}')).toBe('value');
    expect(i('${EMPTY:-d}')).toBe('d');
    expect(i('${NOPE:-d}')).toBe('d');
    expect(i('${EMPTY-d}')).toBe('');
    expect(i('${NOPE-d}')).toBe('d');
    expect(i('${NOPE:-}')).toBe('');
    expect(i('${NOPE:-a b:c/d}')).toBe('a b:c/d');
  });

  it(':+ and + replace only when set (and non-empty for :+)', () => {
    expect(i('${SET:+alt}')).toBe('alt');
    expect(i('${EMPTY:+alt}')).toBe('');
    expect(i('${EMPTY+alt}')).toBe('alt');
    expect(i('${NOPE+alt}')).toBe('');
  });

  it(':? and ? fail naming the variable and the message; a set value passes', () => {
    expect(i('${SET:?must be set}')).toBe('value');
    expect(i('${EMPTY?must be set}')).toBe('');
    expect(() => i('${EMPTY:?must be set}')).toThrow(/required variable EMPTY is empty: must be set/);
    expect(() => i('${NOPE?need it}')).toThrow(/required variable NOPE is missing: need it/);
    try {
      i('${NOPE:?x}');
    } catch (e) {
      expect(SlipwayError.is(e, 'ERR_COMPOSE_INVALID')).toBe(true);
    }
  });

  it('$$ is a literal $, and is not interpolated further', () => {
    expect(i('$$SET')).toBe('$SET');
    expect(i('$${SET}')).toBe('${SET}');
    expect(i('cost: 5$$')).toBe('cost: 5$');
    expect(i('sh -c "echo $$HOME"')).toBe('sh -c "echo $HOME"');
  });

  it('nests expressions in defaults, evaluating only the branch taken', () => {
    expect(i('${NOPE:-${SET}}')).toBe('value');
    expect(i('${NOPE:-${ALSO_NOPE:-deep}}')).toBe('deep');
    expect(i('${SET:-${NOPE:?not evaluated}}')).toBe('value');
    expect(i('${NOPE:+${SET}}')).toBe('');
    expect(i('${SET:+pre-${NESTED}-post}')).toBe('pre-n-post');
  });

  it('leaves a $ that starts no name, and refuses malformed braces', () => {
    expect(i('a $ b')).toBe('a $ b');
    expect(i('100$')).toBe('100$');
    expect(() => i('${}')).toThrow(/invalid interpolation format/);
    expect(() => i('${SET')).toThrow(/missing "}"/);
    expect(() => i('${SET:-x')).toThrow(/missing "}"/);
    expect(() => i('${SET*x}')).toThrow(/unknown operator/);
    expect(() => i('${1ABC}')).toThrow(/variable name/);
  });

  // A hostile compose file: each nested default's word was scanned twice per level (once to find its end, evaluating
  // it all the same), so 30 levels (150 bytes) took hours of synchronous work; 22 levels took 9 s.
  it('nested defaults cost linear work, and nesting past 64 levels is refused', () => {
    const nest = (n: number, inner: string) => '${NOPE:-'.repeat(n) + inner + '}'.repeat(n);
    expect(i(nest(60, 'x'))).toBe('x');
    expect(i(nest(60, '${SET}'))).toBe('value');
    expect(i('${SET:+' + nest(60, 'y') + '}')).toBe('y');
    expect(() => i(nest(65, 'x'))).toThrow(SlipwayError);
    expect(() => i(nest(65, 'x'))).toThrow(/nested more than 64 levels deep/);
  });
});

describe('.env files', () => {
  it('reads KEY=value, export, comments, quotes, escapes, and interpolates all but single quotes', () => {
    const env = parseEnvFile([
      '# comment',
      'A=1',
      'export B=two words  # trailing comment',
      "C='literal $A # not a comment'",
      'D="line\\nbreak \\"q\\" $A"',
      'E=${A}-${UNSET:-def}',
      'F=',
      'G=a#b',
      'H="multi',
      'line"',
      '  I = spaced ',
    ].join('\n'), '.env', {});
    expect(env).toEqual({
      A: '1', B: 'two words', C: 'literal $A # not a comment', D: 'line\nbreak "q" 1', E: '1-def', F: '', G: 'a#b', H: 'multi\nline', I: 'spaced',
    });
  });

  it('a bare KEY takes the outer value, or is dropped when unset', () => {
    expect(parseEnvFile('HOME\nNOPE_X\n', 'f', { HOME: '/root' })).toEqual({ HOME: '/root' });
  });

  it('names file and line for an unterminated quote', () => {
    expect(() => parseEnvFile('A=1\nB="open\n', 'x.env')).toThrow(/x\.env:2: unterminated double quote/);
  });
});

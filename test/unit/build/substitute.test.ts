import { describe, expect, it } from 'vitest';
import { expandWord, expandWords } from '../../../src/build/substitute.js';
import { SlipwayError } from '../../../src/errors.js';

const vars = new Map([['A', 'alpha'], ['EMPTY', ''], ['SP', 'a b']]);

describe('expandWord (BuildKit shell lexer rules)', () => {
  it.each([
    ['$A', 'alpha'], ['${A}', 'alpha'], ['x${A}y', 'xalphay'], ['$A.txt', 'alpha.txt'], ['$NOPE', ''],
    ['${NOPE:-def}', 'def'], ['${EMPTY:-def}', 'def'], ['${EMPTY-def}', ''], ['${NOPE-def}', 'def'], ['${A:-def}', 'alpha'],
    ['${A:+alt}', 'alt'], ['${EMPTY:+alt}', ''], ['${EMPTY+alt}', 'alt'], ['${NOPE+alt}', ''],
    ['${NOPE:-${A}}', 'alpha'], ['${NOPE:-"q d"}', 'q d'],
    ['\\$A', '$A'], ["'$A'", '$A'], ['"$A"', 'alpha'], ['"\\$A"', '$A'], ['"a\\b"', 'a\\b'], ['"a\\"b"', 'a"b'],
    ['a\\ b', 'a b'], ['$', '$'], ['a$', 'a$'],
  ])('%s → %s', (input, out) => {
    expect(expandWord(input, vars)).toBe(out);
  });

  it('uses the escape directive character', () => {
    expect(expandWord('`$A', vars, '`')).toBe('$A');
    expect(expandWord('C:\\dir', vars, '`')).toBe('C:\\dir');
  });

  it('${VAR:?msg} and ${VAR?msg} fail with the message', () => {
    expect(() => expandWord('${EMPTY:?must be set}', vars)).toThrow(/EMPTY: must be set/);
    expect(expandWord('${EMPTY?x}', vars)).toBe('');
    expect(() => expandWord('${NOPE?x}', vars)).toThrow(SlipwayError);
  });

  it('rejects unterminated quotes and bad ${}', () => {
    expect(() => expandWord('"abc', vars)).toThrow(/missing closing "/);
    expect(() => expandWord('${A', vars)).toThrow(SlipwayError);
    expect(() => expandWord('${A/x/y}', vars)).toThrow(/unsupported modifier/);
  });
});

describe('expandWords', () => {
  it('splits on unquoted blanks after expansion of quoted parts only', () => {
    expect(expandWords('a "b c" $A \'$A\'', vars)).toEqual(['a', 'b c', 'alpha', '$A']);
    expect(expandWords('  ', vars)).toEqual([]);
  });
});

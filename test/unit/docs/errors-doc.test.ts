// docs/errors.md is generated from the comments on SlipwayErrorCode (scripts/gen-errors-doc.mjs): a code added without
// a comment, or a page not regenerated, fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS_MD, ERRORS_TS, parseErrorCodes, renderErrorsDoc, undocumented } from '../../../scripts/gen-errors-doc.mjs';

const codes = parseErrorCodes(readFileSync(ERRORS_TS, 'utf8'));

describe('docs/errors.md', () => {
  it('finds every code of SlipwayErrorCode, including ones used by the code base', () => {
    expect(codes.length).toBeGreaterThan(30);
    const used = new Set<string>();
    const src = readFileSync(ERRORS_TS, 'utf8');
    for (const m of src.matchAll(/'(ERR_[A-Z0-9_]+)'/g)) used.add(m[1]!);
    expect(codes.map((c) => c.code).sort()).toEqual([...used].sort());
  });

  it('every code says when it is thrown and the fix (a comment with "Fix:" above it in src/errors.ts)', () => {
    expect(undocumented(codes)).toEqual([]);
  });

  it('lists every code with its text (else run: node scripts/gen-errors-doc.mjs)', () => {
    const page = readFileSync(ERRORS_MD, 'utf8');
    for (const c of codes) expect(page, `${c.code} is missing from docs/errors.md`).toContain(`## ${c.code}\n`);
    expect(page).toBe(renderErrorsDoc(codes));
  });

  it('reports a code without a comment, and a page that lacks a code differs', () => {
    const source = `export type SlipwayErrorCode =\n  /**\n   * When A.\n   * Fix: do A.\n   */\n  | 'ERR_A'\n  | 'ERR_B';\n`;
    const parsed = parseErrorCodes(source);
    expect(parsed).toEqual([{ code: 'ERR_A', when: 'When A.', fix: 'do A.' }, { code: 'ERR_B', when: '', fix: '' }]);
    expect(undocumented(parsed)).toEqual(['ERR_B']);
    expect(renderErrorsDoc(parsed.slice(0, 1))).not.toBe(renderErrorsDoc(parsed));
  });
});

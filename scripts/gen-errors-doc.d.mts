// Types for scripts/gen-errors-doc.mjs (plain JS so it runs without a build).

/** One member of `SlipwayErrorCode`, with the two parts of its comment. */
export interface ErrorCodeDoc {
  code: string;
  /** When it is thrown ('' if the comment is missing). */
  when: string;
  /** What to do: the text after `Fix:` ('' if missing). */
  fix: string;
}
export declare const ERRORS_TS: string;
export declare const ERRORS_MD: string;
export declare function parseErrorCodes(source: string): ErrorCodeDoc[];
export declare function undocumented(codes: ErrorCodeDoc[]): string[];
export declare function renderErrorsDoc(codes: ErrorCodeDoc[]): string;

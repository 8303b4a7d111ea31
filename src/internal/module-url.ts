/**
 * The one place that reads `import.meta.url`: the CommonJS build (scripts/write-cjs-package.mjs)
 * rewrites the expression below to the same URL built from `__filename`, so both builds share one source.
 */
// @ts-ignore TS1343 in the CommonJS build only; the expression is rewritten there.
export const moduleUrl: string = import.meta.url;

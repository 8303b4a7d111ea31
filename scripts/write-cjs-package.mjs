// Finishes the CommonJS build in dist/cjs (inside a "type": "module" package):
// 1. marks the directory as CommonJS;
// 2. rewrites the single `import.meta.url` (src/internal/module-url.ts) to its CommonJS equivalent.
import { readFileSync, writeFileSync } from 'node:fs';

const dist = new URL('../dist/cjs/', import.meta.url);
writeFileSync(new URL('package.json', dist), JSON.stringify({ type: 'commonjs' }) + '\n');
const file = new URL('internal/module-url.js', dist);
const src = readFileSync(file, 'utf8');
const out = src.replace(/= import\.meta\.url;/, '= require("node:url").pathToFileURL(__filename).href;');
if (out === src || /= import\.meta/.test(out)) throw new Error('write-cjs-package: expected exactly one import.meta.url in dist/cjs/internal/module-url.js');
writeFileSync(file, out);

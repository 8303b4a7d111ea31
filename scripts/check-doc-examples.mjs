#!/usr/bin/env node
// Checks the API docs the way a user reads them: every export of the package's entry points (package.json "exports")
// has a description and an `@example`, and every `@example` on the public API (the exports, their members, the entry
// points' @packageDocumentation) and every ```ts/```js block of README.md and docs/*.md compiles when written to a
// file of its own that imports `slipway`,
// `slipway/testcontainers`… as a user would (mapped to src/ by `paths`, so no build is needed). Examples must be
// self-contained: their own imports, no names from outside.
//
//   node scripts/check-doc-examples.mjs [--keep]   # --keep leaves the generated files in .doc-examples/
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.doc-examples');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** `slipway` → src/index.ts, `slipway/testcontainers` → src/testcontainers.ts…, from the exports' ESM types. */
function entryPoints() {
  const out = new Map();
  for (const [key, value] of Object.entries(pkg.exports ?? {})) {
    const types = value?.import?.types ?? value?.types;
    if (typeof types !== 'string' || !types.startsWith('./dist/esm/')) continue;
    const src = join(ROOT, 'src', types.slice('./dist/esm/'.length).replace(/\.d\.ts$/, '.ts'));
    out.set(key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, src);
  }
  return out;
}

/**
 * The code of an @example tag: its raw text without the tag, the comment's leading ` * ` and any code fence, and the
 * fence's language (`ts` when there is none).
 */
function exampleCode(sf, tag) {
  const raw = sf.text.slice(tag.getStart(sf), tag.end).replace(/\*\/\s*$/, '');
  const lines = raw.split('\n').map((l, i) => (i === 0 ? l.replace(/^@example\s?/, '') : l.replace(/^\s*\*( |$)/, '')));
  let code = lines.join('\n');
  let lang = 'ts';
  const fenced = code.match(/```([a-z]*)\n([\s\S]*?)```/);
  if (fenced) [lang, code] = [fenced[1] || 'ts', fenced[2]];
  return { code: code.replace(/^\s*\n/, '').trimEnd(), lang };
}

/** The file name extension an example compiles as: TypeScript, or JavaScript (CommonJS when it uses require). */
function extensionOf({ code, lang }) {
  if (!['js', 'javascript', 'cjs', 'mjs'].includes(lang)) return '.ts';
  return lang === 'cjs' || (lang !== 'mjs' && /\brequire\(|module\.exports/.test(code)) ? '.cjs' : '.mjs';
}

function main() {
  const entries = entryPoints();
  const options = {
    ...ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} }).options,
    noEmit: true, declaration: false, sourceMap: false,
  };
  const program = ts.createProgram([...entries.values()], options);
  const checker = program.getTypeChecker();
  const problems = [];
  const examples = new Map(); // key file:pos → { file, line, code, owner }
  const seen = new Set();

  const collect = (decl, owner) => {
    const sf = decl.getSourceFile();
    if (!sf.fileName.startsWith(join(ROOT, 'src'))) return;
    for (const doc of ts.getJSDocCommentsAndTags(decl)) {
      for (const tag of ts.isJSDoc(doc) ? doc.tags ?? [] : []) {
        if (tag.tagName.text !== 'example') continue;
        const key = `${sf.fileName}:${tag.pos}`;
        if (examples.has(key)) continue;
        const line = sf.getLineAndCharacterOfPosition(tag.getStart(sf)).line + 1;
        examples.set(key, { file: relative(ROOT, sf.fileName), line, ...exampleCode(sf, tag), owner });
      }
    }
  };

  for (const [name, file] of entries) {
    const sf = program.getSourceFile(file);
    if (!sf) { problems.push(`${name}: ${relative(ROOT, file)} not found`); continue; }
    // The entry point's @packageDocumentation: the file's first JSDoc.
    const first = sf.statements[0];
    if (first) for (const doc of ts.getJSDocCommentsAndTags(first)) {
      if (ts.isJSDoc(doc) && doc.tags?.some((t) => t.tagName.text === 'packageDocumentation')) collect(first, `${name} (package)`);
    }
    for (const exp of checker.getExportsOfModule(checker.getSymbolAtLocation(sf))) {
      const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
      const label = `${name}: ${exp.name}`;
      if (seen.has(sym)) continue;
      seen.add(sym);
      const decls = (sym.declarations ?? []).filter((d) => d.getSourceFile().fileName.startsWith(join(ROOT, 'src')));
      if (!decls.length) continue;
      const where = `${relative(ROOT, decls[0].getSourceFile().fileName)}:${decls[0].getSourceFile().getLineAndCharacterOfPosition(decls[0].getStart()).line + 1}`;
      if (!ts.displayPartsToString(sym.getDocumentationComment(checker)).trim()) problems.push(`${label} (${where}) has no description`);
      if (!sym.getJsDocTags(checker).some((t) => t.name === 'example')) problems.push(`${label} (${where}) has no @example`);
      for (const d of decls) collect(d, label);
      // Members: instance and static sides of classes, properties of interfaces.
      const types = [];
      if (sym.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) types.push(checker.getDeclaredTypeOfSymbol(sym));
      if (sym.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Function | ts.SymbolFlags.Variable)) types.push(checker.getTypeOfSymbol(sym));
      for (const t of types) {
        for (const p of checker.getPropertiesOfType(t)) for (const d of p.declarations ?? []) collect(d, `${label}.${p.name}`);
        for (const s of [...t.getConstructSignatures(), ...t.getCallSignatures()]) if (s.declaration) collect(s.declaration, label);
      }
    }
  }

  // The TypeScript and JavaScript blocks of the pages users read first (README, docs/*.md) compile too.
  for (const page of ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const m of text.matchAll(/^```(ts|js)\n([\s\S]*?)^```/gm)) {
      const line = text.slice(0, m.index).split('\n').length;
      examples.set(`${page}:${line}`, { file: page, line, code: m[2].trimEnd(), lang: m[1], owner: 'page' });
    }
  }

  // One file per example; `export {}` makes a file without imports a module (top-level await). Examples that augment
  // a module (`declare module 'vitest' { … }`) compile in a program of their own, so that one example's augmentation
  // does not change what another sees.
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const generated = new Map();
  let n = 0;
  for (const ex of examples.values()) {
    const ext = extensionOf(ex);
    const base = `${String(++n).padStart(3, '0')}-${ex.file.replace(/^src\//, '').replace(/[/.]/g, '_')}-${ex.line}${ext}`;
    const header = `// ${ex.file}:${ex.line} (${ex.owner})\n`;
    const isModule = ext === '.cjs' || /^\s*(import|export)\s/m.test(ex.code);
    const body = isModule ? ex.code : `${ex.code}\nexport {};`;
    writeFileSync(join(OUT, base), `${header}${body}\n`);
    generated.set(join(OUT, base), { ...ex, offset: 1, augments: /^\s*declare module\s/m.test(ex.code) });
  }
  const paths = Object.fromEntries([...entries].map(([name, file]) => [name, [file]]));
  const exOptions = { ...options, baseUrl: ROOT, paths, allowJs: true, checkJs: true, noImplicitOverride: false, noUnusedLocals: false, noUnusedParameters: false };
  const files = [...generated.keys()];
  const groups = [files.filter((f) => !generated.get(f).augments), ...files.filter((f) => generated.get(f).augments).map((f) => [f])];
  let previous;
  for (const group of groups) {
    if (!group.length) continue;
    const exProgram = ts.createProgram(group, exOptions, undefined, previous);
    previous = exProgram;
    for (const d of ts.getPreEmitDiagnostics(exProgram)) {
      const g = d.file && generated.get(d.file.fileName);
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!g) { problems.push(`${d.file ? relative(ROOT, d.file.fileName) : ''}: ${text}`); continue; }
      const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      problems.push(`${g.owner === 'page' ? 'code block' : '@example'} at ${g.file}:${g.line} (${g.owner}), line ${line - g.offset + 1}: ${text}`);
    }
  }

  if (!process.argv.includes('--keep')) rmSync(OUT, { recursive: true, force: true });
  if (problems.length) {
    console.error(problems.join('\n'));
    console.error(`check-doc-examples: ${problems.length} problem(s) in ${entries.size} entry points, ${examples.size} examples`);
    process.exit(1);
  }
  console.log(`check-doc-examples: ${seen.size} exports documented, ${examples.size} examples and page code blocks compile (${[...entries.keys()].join(', ')})`);
}

main();

// Dependencies point down only (ARCHITECTURE.md): the runtime never imports the API, and the API and CLI reach the
// runtime only through its facade, src/runtime/index.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every module specifier a file imports (static, type-only and dynamic), resolved to a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, join(file, '..', s)).replace(/\.js$/, ''));
}

describe('layering', () => {
  it('runtime/ imports nothing from api/, cli/ or modules/', () => {
    const bad = files(join(SRC, 'runtime')).flatMap((f) => importsOf(f).filter((i) => /^(api|cli|modules)\//.test(i)).map((i) => `${relative(SRC, f)} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('build/ sits below api/: it imports nothing from api/, cli/, modules/ or testcontainers/, and runtime/ nothing from build/', () => {
    const up = files(join(SRC, 'build')).flatMap((f) => importsOf(f).filter((i) => /^(api|cli|modules|testcontainers)\//.test(i) || i === 'testcontainers').map((i) => `${relative(SRC, f)} → ${i}`));
    const down = files(join(SRC, 'runtime')).flatMap((f) => importsOf(f).filter((i) => i.startsWith('build/')).map((i) => `${relative(SRC, f)} → ${i}`));
    expect([...up, ...down]).toEqual([]);
  });

  it('api/, cli/, build/, compose/, runners/ and the runner entry points reach the runtime only through runtime/index.ts', () => {
    const bad = [...files(join(SRC, 'api')), ...files(join(SRC, 'cli')), ...files(join(SRC, 'compose')), ...files(join(SRC, 'build')), ...files(join(SRC, 'runners')), ...['vitest.ts', 'jest.ts', 'jest-environment.ts'].map((f) => join(SRC, f))]
      .flatMap((f) => importsOf(f).filter((i) => i.startsWith('runtime/') && i !== 'runtime/index').map((i) => `${relative(SRC, f)} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('importing slipway (or slipway/testcontainers) loads neither vitest nor jest nor the runner helpers', () => {
    const seen = new Set<string>();
    const visit = (rel: string): void => {
      if (seen.has(rel)) return;
      seen.add(rel);
      const file = join(SRC, `${rel}.ts`);
      const text = readFileSync(file, 'utf8');
      const bare = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*'([^.'][^']*)'/g)].map((m) => m[1]!);
      expect(bare.filter((b) => /^(vitest|jest|@jest\/)|^jest-/.test(b)), rel).toEqual([]);
      for (const i of importsOf(file)) visit(i);
    };
    visit('index');
    visit('testcontainers');
    expect([...seen].filter((f) => /^(vitest|jest|jest-environment)$|^runners\//.test(f))).toEqual([]);
  });
  it('src/ has no import circle, type-only imports included (a circle of types still ties the files into one unit)', () => {
    const all = files(SRC).map((f) => relative(SRC, f).replace(/\.ts$/, ''));
    const edges = new Map(all.map((f) => [f, importsOf(join(SRC, `${f}.ts`)).map((i) => (all.includes(i) ? i : `${i}/index`)).filter((i) => all.includes(i))]));
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') { circles.push([...path.slice(path.indexOf(f)), f].join(' → ')); return; }
      state.set(f, 'open');
      for (const to of edges.get(f) ?? []) visit(to, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of all) visit(f, []);
    expect(circles).toEqual([]);
  });
});

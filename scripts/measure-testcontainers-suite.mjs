#!/usr/bin/env node
// Measures slipway/testcontainers against testcontainers-node's own test suite (dev tool, not run in CI: it needs a
// clone of testcontainers-node, e.g. the mirror's bare git dir, and the integration fixtures).
//
//   node scripts/measure-testcontainers-suite.mjs [GIT_DIR] [--keep] [--concurrent] [-- <vitest args>]
//   GIT_DIR defaults to $TESTCONTAINERS_NODE_GIT_DIR, else /work/.mirror/testcontainers+testcontainers-node/repo
//   (its HEAD is read, v12.1.0 when written). Run as root, or rootless as a user who can run the integration tests.
//
// It copies the GenericContainer, wait-strategy, network, PostgreSQL and Redis module test files (and the package's
// fixtures/) into a temporary directory with their upstream layout, rewrites every relative import (and vi.mock) to a
// stub over scripts/testcontainers-suite/shim.ts — this checkout's src/testcontainers.ts plus upstream's test helpers;
// helpers that inspect Docker throw `INSPECTS_DOCKER: <name>` — maps `redis` (node-redis) to an ioredis adapter, and
// runs them with vitest (upstream's settings, sequential unless --concurrent) under the integration project's global
// setup: images come from the fixture registry through SLIPWAY_HUB_IMAGE_NAME_PREFIX, upstream's test images
// (cristianrgreco/testcontainer, mendhak/udp-listener) from their stand-ins. Prints pass/fail/skip and the failures
// grouped by their first error line. Left out: wait-strategies/utils/*.test.ts (mock-only unit tests of upstream
// internals) and the pgvector/postgis/timescale images (no fixtures).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturesDir } from './registry.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash < 0 ? argv : argv.slice(0, dash);
const vitestArgs = dash < 0 ? [] : argv.slice(dash + 1);
const keep = own.includes('--keep');
const concurrent = own.includes('--concurrent');
const gitDir = own.find((a) => !a.startsWith('--'))
  ?? process.env.TESTCONTAINERS_NODE_GIT_DIR ?? '/work/.mirror/testcontainers+testcontainers-node/repo';

const git = (...args) => execFileSync('git', [`--git-dir=${gitDir}`, ...args], { maxBuffer: 64 << 20 });
const INCLUDE = [
  /^packages\/testcontainers\/src\/(generic-container|wait-strategies|network)\/[^/]+\.test\.ts$/,
  /^packages\/modules\/(postgresql|redis)\/src\/[^/]+\.test\.ts$/,
];
const EXCLUDE = /\/(pgvector|postgis|timescale)-container\.test\.ts$/;
const files = git('ls-tree', '-r', '--name-only', 'HEAD').toString().split('\n')
  .filter((f) => INCLUDE.some((re) => re.test(f)) && !EXCLUDE.test(f));

const dir = mkdtempSync(path.join(tmpdir(), 'slipway-tc-suite-'));
const shimDir = path.join(dir, 'shim');
mkdirSync(shimDir);
const shim = path.join(root, 'scripts/testcontainers-suite/shim.ts');
const stubs = new Map();
/** One stub module per upstream internal module, so a vi.mock of one replaces only what the test took from it. */
function stubFor(spec) {
  const name = spec.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+/, '') || 'index';
  if (!stubs.has(name)) {
    const file = path.join(shimDir, `${name}.ts`);
    writeFileSync(file, `export * from ${JSON.stringify(shim)};\n`);
    stubs.set(name, file);
  }
  return stubs.get(name);
}
const rewrite = (source) => source.replace(
  /(\bfrom\s+|\bimport\s+|\bvi\.mock\(\s*|\bimport\(\s*)(["'])([^"']+)\2/g,
  (m, lead, q, spec) => {
    if (spec.startsWith('.')) return `${lead}${q}${stubFor(spec)}${q}`;
    if (spec === 'redis') return `${lead}${q}${path.join(root, 'scripts/testcontainers-suite/redis-client.ts')}${q}`;
    return m;
  });

// Fixture files first (copy sources, Dockerfiles, the modules' certificates and data files; getImage reads the
// modules' Dockerfiles), then the rewritten tests over them.
// Upstream's tsconfig files are left out (they extend files outside these directories; vitest needs none).
const archive = git('archive', 'HEAD', 'packages/testcontainers/fixtures', 'packages/modules/postgresql', 'packages/modules/redis');
execFileSync('tar', ['-x', '-C', dir, '--exclude=tsconfig*.json'], { input: archive, maxBuffer: 64 << 20 });
// Upstream's Dockerfiles build on node:10-alpine and alpine, installing Express, curl and dumb-init from the internet:
// build them on the stand-ins instead (testcontainer:1.1.14 already has those and serves /index.js; busybox for
// alpine), without the RUN lines that download (apk, npm, openssl's certificate: the stand-in has one) and with the
// server's absolute path (a Dockerfile's own `COPY . .` would otherwise shadow it).
const standIn = JSON.parse(readFileSync(path.join(fixturesDir(), 'fixtures.json'), 'utf8')).images?.testcontainer;
function standInDockerfile(text) {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  return lines.filter((l) => !/^\s*RUN\b(?!.*--mount).*\b(apk|npm|openssl)\b/i.test(l) && !/^\s*COPY\s+index\.js\s/i.test(l))
    .map((l) => l.replace(/^(\s*FROM\s+)node:\S+/i, '$1testcontainer:1.1.14').replace(/^(\s*FROM\s+)alpine:\S+/i, '$1busybox:latest')
      .replace(/^(\s*CMD\s+\["node",\s*)"index\.js"\]/, '$1"/index.js"]'))
    .join('\n');
}
if (standIn) {
  const fixtureDir = path.join(dir, 'packages/testcontainers/fixtures/docker');
  for (const entry of readdirSync(fixtureDir, { recursive: true })) {
    const file = path.join(fixtureDir, String(entry));
    if (/(^|\/)Dockerfile[^/]*$/.test(String(entry)) && statSync(file).isFile()) writeFileSync(file, standInDockerfile(readFileSync(file, 'utf8')));
  }
}
for (const f of files) {
  const out = path.join(dir, f);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, rewrite(git('show', `HEAD:${f}`).toString()));
}
symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));

// A test that called a Docker-inspecting helper and failed is counted as such (the shim notes the call).
writeFileSync(path.join(shimDir, 'setup.ts'), `import { beforeEach, inject } from 'vitest';
process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = \`\${inject('registry')}/\`;
process.env.SLIPWAY_FIXTURES_DIR = inject('fixturesDir');
beforeEach((ctx) => {
  globalThis.__inspectsDocker = undefined;
  ctx.onTestFailed(() => { if (globalThis.__inspectsDocker) ctx.task.meta.inspectsDocker = globalThis.__inspectsDocker; });
});
`);
writeFileSync(path.join(dir, 'vitest.config.mjs'), `import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: {
    root: ${JSON.stringify(dir)},
    include: ${JSON.stringify(files)},
    globals: true,
    globalSetup: [${JSON.stringify(path.join(root, 'test/integration/global-setup.ts'))}],
    setupFiles: [${JSON.stringify(path.join(shimDir, 'setup.ts'))}],
    alias: { testcontainers: ${JSON.stringify(shim)} },
    // As upstream's vitest config (its logger tests spy on what DEBUG enables).
    env: { DEBUG: 'testcontainers*' },
    silent: 'passed-only',
    passWithNoTests: true, mockReset: true, restoreMocks: true, unstubEnvs: true,
    sequence: { concurrent: ${concurrent} },
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
`);

const resultFile = path.join(dir, 'result.json');
// Upstream's own switch for what Docker cannot do rootless (ulimits above the host's).
const env = { ...process.env, ...(process.getuid?.() !== 0 ? { CI_ROOTLESS: '1' } : {}) };
const run = spawnSync(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', path.join(dir, 'vitest.config.mjs'),
  '--reporter=dot', '--reporter=json', `--outputFile.json=${resultFile}`, ...vitestArgs], { cwd: dir, stdio: 'inherit', env });
if (!existsSync(resultFile)) {
  console.error(`vitest wrote no result (exit ${run.status}); tree kept in ${dir}`);
  process.exit(2);
}

const result = JSON.parse(readFileSync(resultFile, 'utf8'));
const counts = { passed: 0, failed: 0, skipped: 0 };
const groups = new Map();
const note = (key, test) => { if (!groups.has(key)) groups.set(key, []); groups.get(key).push(test); };
const firstLine = (msg) => (msg.split('\n').find((l) => l.trim()) ?? '').trim()
  .replace(/\x1b\[[0-9;]*m/g, '').replace(/\b[0-9a-f]{12,64}\b/g, '<id>').slice(0, 160);
for (const file of result.testResults) {
  const rel = path.relative(dir, file.name);
  if (file.assertionResults.length === 0 && file.status === 'failed') {
    // The file failed before any test ran: count its tests as upstream declares them.
    const n = (readFileSync(file.name, 'utf8').match(/^\s*(it|test)(\.concurrent)?\(/gm) ?? []).length || 1;
    counts.failed += n;
    note(`[file does not load] ${firstLine(file.message ?? '')}`, `${rel} (${n} tests)`);
    continue;
  }
  for (const t of file.assertionResults) {
    if (t.status === 'passed') counts.passed++;
    else if (t.status === 'failed') {
      counts.failed++;
      const msg = t.failureMessages?.[0] ?? '';
      const inspects = t.meta?.inspectsDocker ?? /INSPECTS_DOCKER: (\w+)/.exec(msg)?.[1];
      note(inspects ? `[inspects Docker] ${inspects}` : firstLine(msg), `${rel.replace(/^packages\/(testcontainers\/src\/|modules\/)/, '')} › ${t.fullName}`);
    } else counts.skipped++;
  }
}
const ran = counts.passed + counts.failed;
console.log(`\ntestcontainers-node ${git('describe', '--tags', '--always', 'HEAD').toString().trim()} suite over slipway/testcontainers (${process.getuid?.() === 0 ? 'root' : 'rootless'}):`);
console.log(`  ${counts.passed} pass, ${counts.failed} fail, ${counts.skipped} skip — ${ran ? ((100 * counts.passed) / ran).toFixed(1) : 0}% of those that ran pass`);
for (const [key, tests] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
  console.log(`\n${tests.length} × ${key}`);
  for (const t of tests) console.log(`    ${t}`);
}
if (keep) console.log(`\ntree kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });

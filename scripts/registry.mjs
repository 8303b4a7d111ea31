#!/usr/bin/env node
// A real local registry for slipway's tests: Debian's `docker-registry` (distribution 2.8) on free
// loopback ports, serving the fixture images that scripts/fixtures/build.sh made.
//
//   node scripts/registry.mjs seed [catalogue.json]  (root, run by the fixture build) pushes every fixture with skopeo
//                                     into a registry storage dir kept in the fixtures dir, keyed by
//                                     the images' recipes, so test runs copy it instead of pushing.
//   node scripts/registry.mjs serve   starts the test registries on free ports, prints their
//                                     addresses as shell assignments, and runs until SIGINT/SIGTERM.
//
// Two registries share one storage dir: an open one, and one that demands HTTP basic auth
// (user `slipway`, password `slipway-secret`). Both are plain HTTP on 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// No npm dependencies: the fixture build runs this before `npm ci`.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const REGISTRY_BIN = process.env.SLIPWAY_REGISTRY_BIN || '/usr/bin/docker-registry';

/** Credentials accepted by the auth registry. */
export const AUTH_CREDENTIALS = Object.freeze({ username: 'slipway', password: 'slipway-secret' });
// bcrypt (cost 4, so each request checks in well under a millisecond) of AUTH_CREDENTIALS.password.
const HTPASSWD = 'slipway:$2b$04$fr3tzAyvmQh0PJhhF5a81OYXFRxDEVupWvpiQl4ID6vr1PLxl5voe\n';

/** The fixtures dir: `$SLIPWAY_FIXTURES_DIR`, else /var/cache/slipway-fixtures. */
export function fixturesDir() {
  return process.env.SLIPWAY_FIXTURES_DIR || '/var/cache/slipway-fixtures';
}

/** Reads `fixtures.json`; throws an error that says how to build the fixtures when it is missing. */
export function readCatalogue(dir = fixturesDir()) {
  const file = join(dir, 'fixtures.json');
  if (!existsSync(file)) {
    throw new Error(`slipway test fixtures are missing (${file} does not exist). Build them once with: sudo bash scripts/setup-host.sh`);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * Every push the registry gets: each tag of each image as `library/<name>:<tag>` and `<name>:<tag>`, and
 * an image's `aliases` (`{repo, tag, from}`: tag `from` of the layout as `<repo>:<tag>`, for Docker Hub
 * names such as `cristianrgreco/testcontainer`). Tag `multi` is an image index and is copied with `--all`.
 */
export function pushList(catalogue, dir = fixturesDir()) {
  const pushes = [];
  for (const [name, image] of Object.entries(catalogue.images)) {
    for (const tag of image.tags) {
      for (const repo of [`library/${name}`, name]) {
        pushes.push({ source: `oci:${join(dir, image.layout)}:${tag}`, repo, tag, all: tag === 'multi' });
      }
    }
    for (const a of image.aliases ?? []) pushes.push({ source: `oci:${join(dir, image.layout)}:${a.from}`, repo: a.repo, tag: a.tag, all: false });
  }
  return pushes;
}

function seedKey(catalogue) {
  const recipes = Object.entries(catalogue.images).map(([n, i]) =>
    `${n}=${i.recipe}:${i.tags.join(',')}${(i.aliases ?? []).map((a) => ` ${a.repo}:${a.tag}<${a.from}`).join('')}`);
  return createHash('sha256').update(`seed-v1\n${recipes.sort().join('\n')}`).digest('hex').slice(0, 16);
}

/** The seeded registry storage for the current fixtures, or undefined if it was not made. */
export function seededStorage(dir = fixturesDir()) {
  const storage = join(dir, 'registry', seedKey(readCatalogue(dir)));
  return existsSync(join(storage, 'docker')) ? storage : undefined;
}

function registryConfig({ storageDir, port, htpasswdFile }) {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: slipway-test-registry',
  ];
  if (htpasswdFile) lines.push('auth:', '  htpasswd:', '    realm: slipway-test', `    path: ${htpasswdFile}`);
  return lines.join('\n') + '\n';
}

async function waitForV2(address, child, stderr, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}) while starting: ${stderr().trim()}`);
    try {
      const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on http://${address}/v2/ within ${timeoutMs} ms: ${stderr().trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts one docker-registry on a free 127.0.0.1 port over `storageDir`.
 * @returns {Promise<{address: string, port: number, stop: () => Promise<void>}>}
 */
export async function startRegistry({ storageDir, auth = false, workDir }) {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} not found; install Debian's registry with: sudo bash scripts/setup-host.sh (or apt-get install docker-registry)`);
  }
  const dir = workDir ?? mkdtempSync(join(tmpdir(), 'slipway-registry-'));
  mkdirSync(storageDir, { recursive: true });
  let htpasswdFile;
  if (auth) {
    htpasswdFile = join(dir, 'htpasswd');
    writeFileSync(htpasswdFile, HTPASSWD);
  }
  let lastError;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const configFile = join(dir, `config-${port}.yml`);
    writeFileSync(configFile, registryConfig({ storageDir, port, htpasswdFile }));
    // setpriv --pdeathsig: the registry dies with us even if we are SIGKILLed (no orphans on the port).
    const argv = existsSync('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', '--pdeathsig', 'SIGKILL', '--', REGISTRY_BIN, 'serve', configFile]
      : [REGISTRY_BIN, 'serve', configFile];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    child.on('error', (e) => { err += String(e); });
    const address = `127.0.0.1:${port}`;
    try {
      await waitForV2(address, child, () => err);
    } catch (e) {
      lastError = e;
      child.kill('SIGKILL');
      continue; // most likely the port was taken between get-port and bind
    }
    let stopped;
    const stop = () => {
      stopped ??= new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => { clearTimeout(timer); resolve(); });
        child.kill('SIGTERM');
      }).then(() => {
        if (!workDir) rmSync(dir, { recursive: true, force: true });
      });
      return stopped;
    };
    return { address, port, stop };
  }
  if (!workDir) rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function skopeoCopy({ source, repo, tag, all }, address) {
  return new Promise((resolve, reject) => {
    const args = ['copy', '--quiet', '--dest-tls-verify=false', ...(all ? ['--all'] : []), source, `docker://${address}/${repo}:${tag}`];
    const child = spawn('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`skopeo ${args.join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

/** Pushes every fixture to the registry at `address` with skopeo (a few at a time). */
export async function pushFixtures(address, dir = fixturesDir(), catalogue = readCatalogue(dir)) {
  const queue = pushList(catalogue, dir);
  // The first copy of each image uploads its blobs; later tags of it only check they exist.
  // Two copies of images that share a layer (busybox:latest and :1, every image's debian layer) can race: one's
  // manifest is refused ("manifest blob unknown") while the other is still uploading the blob. Such a push is
  // tried again once all are done, one at a time, when every blob is in place.
  const failed = [];
  const workers = Array.from({ length: 3 }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) await skopeoCopy(p, address).catch(() => failed.push(p));
  });
  await Promise.all(workers);
  for (const p of failed) await skopeoCopy(p, address);
}

/**
 * Makes the seeded registry storage for a catalogue (default: the current fixtures.json) if it is not there
 * yet. Keeps the current fixtures.json's seed besides it, so test runs that read that catalogue still find
 * theirs while the build moves the new one into place; any other seed is removed.
 */
export async function seed(dir = fixturesDir(), catalogueFile = undefined) {
  const catalogue = catalogueFile ? JSON.parse(readFileSync(catalogueFile, 'utf8')) : readCatalogue(dir);
  const root = join(dir, 'registry');
  const key = seedKey(catalogue);
  const target = join(root, key);
  if (existsSync(join(target, 'docker'))) return { storage: target, pushed: false };
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `${key}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const registry = await startRegistry({ storageDir: tmp });
  try {
    await pushFixtures(registry.address, dir, catalogue);
  } finally {
    await registry.stop();
  }
  let current;
  try {
    current = seedKey(readCatalogue(dir));
  } catch {
    // no fixtures.json yet
  }
  for (const old of readdirSync(root)) if (old !== `${key}.tmp-${process.pid}` && old !== current) rmSync(join(root, old), { recursive: true, force: true });
  renameSync(tmp, target);
  spawnSync('chmod', ['-R', 'a+rX', target]);
  return { storage: target, pushed: true };
}

// Removes registry dirs left by test runs that were killed (their owner.pid is not alive).
function sweepStale() {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('slipway-registry-')) continue;
    const d = join(tmpdir(), name);
    let pid;
    try {
      pid = Number(readFileSync(join(d, 'owner.pid'), 'utf8'));
    } catch {
      continue; // not ours to judge (no pid file, or not readable)
    }
    try {
      process.kill(pid, 0);
    } catch (e) {
      if (e.code === 'ESRCH') rmSync(d, { recursive: true, force: true });
    }
  }
}

/**
 * Starts the test registries over a private copy of the seeded storage (or, without a seed, over an
 * empty storage into which the fixtures are pushed). Everything lives in a temp dir owned by the
 * calling user and removed by `stop()`.
 * @returns {Promise<{address: string, authAddress: string, credentials: {username: string, password: string}, storageDir: string, stop: () => Promise<void>}>}
 */
export async function startTestRegistries({ dir = fixturesDir() } = {}) {
  readCatalogue(dir); // fail early, with the fix, when the fixtures are missing
  sweepStale();
  const work = mkdtempSync(join(tmpdir(), 'slipway-registry-'));
  writeFileSync(join(work, 'owner.pid'), String(process.pid));
  const storageDir = join(work, 'storage');
  const stops = [];
  const stop = async () => {
    await Promise.all(stops.map((s) => s()));
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const seeded = seededStorage(dir);
    if (seeded) {
      const cp = spawnSync('cp', ['-R', seeded, storageDir], { encoding: 'utf8' });
      if (cp.status !== 0) throw new Error(`copying the registry seed ${seeded} failed: ${cp.stderr}`);
    }
    const open = await startRegistry({ storageDir, workDir: work });
    stops.push(open.stop);
    if (!seeded) await pushFixtures(open.address, dir);
    const authed = await startRegistry({ storageDir, workDir: work, auth: true });
    stops.push(authed.stop);
    return { address: open.address, authAddress: authed.address, credentials: { ...AUTH_CREDENTIALS }, storageDir, seeded: Boolean(seeded), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function main(cmd) {
  if (cmd === 'seed') {
    const t = Date.now();
    const { storage, pushed } = await seed(fixturesDir(), process.argv[3]);
    console.error(`[fixtures] registry seed ${pushed ? `pushed in ${((Date.now() - t) / 1000).toFixed(1)}s` : 'cached'}: ${storage}`);
  } else if (cmd === 'serve') {
    const r = await startTestRegistries();
    console.log(`SLIPWAY_TEST_REGISTRY=${r.address}`);
    console.log(`SLIPWAY_TEST_REGISTRY_AUTH=${r.authAddress}`);
    console.log(`SLIPWAY_TEST_REGISTRY_USER=${r.credentials.username}`);
    console.log(`SLIPWAY_TEST_REGISTRY_PASSWORD=${r.credentials.password}`);
    const quit = () => r.stop().then(() => process.exit(0));
    process.on('SIGINT', quit);
    process.on('SIGTERM', quit);
  } else {
    console.error('usage: node scripts/registry.mjs seed|serve');
    process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2]).catch((e) => {
    console.error(`registry.mjs: ${e.message}`);
    process.exit(1);
  });
}

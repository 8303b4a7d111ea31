/**
 * The configuration end to end: `slipway info` shows each setting and where it came from, a bad file fails with the
 * file, key and allowed values, the Hub prefix keys the store so what `images` lists `--pull never` finds, and the
 * startup timeout setting bounds a container's wait.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Container, SlipwayError, Wait } from '../../../src/index.js';
import { fixtureRef, helperBuilt, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { cliArgs } from './harness.js';

interface Finished { code: number | null; stdout: string; stderr: string }

const root = mkdtempSync(join(tmpdir(), 'slipway-config-it-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, 'home');
const project = join(root, 'project');
const cwd = join(project, 'sub');
mkdirSync(home, { recursive: true });
mkdirSync(cwd, { recursive: true });

/** Runs the CLI in `cwd` with a clean slipway environment (no SLIPWAY_* or TESTCONTAINERS_* from outside) and HOME = `home`. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SLIPWAY_(?!TEST_|HELPER)|TESTCONTAINERS_|XDG_CONFIG_HOME$)/.test(k)));
  const [node, ...prefix] = cliArgs();
  const child = spawn(node!, [...prefix, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, HOME: home, ...env } });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out.stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { out.stderr += s; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, ...out })));
}

describe('slipway info', () => {
  it('prints every setting with its origin: default, the project file found upward, an environment variable', async () => {
    const file = join(project, 'slipway.config.json');
    writeFileSync(file, JSON.stringify({ registryMirrors: ['mirror.example:5000'], startupTimeout: 120000 }));
    writeFileSync(join(home, '.testcontainers.properties'), 'hub.image.name.prefix=props.example/hub\n');
    const r = await cli(['info'], { SLIPWAY_PULL_POLICY: 'never' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`project file: ${file}`);
    expect(r.stdout).toMatch(new RegExp(`registryMirrors +mirror\\.example:5000 +${file.replace(/[.]/g, '\\.')}\\n`));
    expect(r.stdout).toMatch(new RegExp(`startupTimeout +120000 +${file.replace(/[.]/g, '\\.')}\\n`));
    expect(r.stdout).toMatch(/pullPolicy +never +env SLIPWAY_PULL_POLICY\n/);
    expect(r.stdout).toMatch(new RegExp(`hubImageNamePrefix +props\\.example/hub +${join(home, '.testcontainers.properties').replace(/[.]/g, '\\.')}\\n`));
    expect(r.stdout).toMatch(/runtime +native +default\n/);
    expect(r.stdout).toContain('runtime: native (runtime setting is native)\n');
    // Engine: an address nothing answers on is reported, not thrown.
    const none = await cli(['info', '--json'], { SLIPWAY_RUNTIME: 'engine', DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(JSON.parse(none.stdout).runtime).toMatchObject({ kind: 'none', reason: expect.stringContaining('unix:///nonexistent/docker.sock (DOCKER_HOST): no answer') });
    if (process.getuid!() !== 0) expect(r.stdout).toMatch(/^subordinate ids of \S+: uids \d+-\d+, gids \d+-\d+$/m);

    const json = JSON.parse((await cli(['info', '--json'], { TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: 'tc.example/hub' })).stdout) as { settings: Record<string, { value: unknown; origin: string }> };
    expect(json.settings.hubImageNamePrefix).toMatchObject({ value: 'tc.example/hub', origin: 'env TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX' });
    expect(json.settings.startupTimeout).toMatchObject({ value: 120000, origin: file });
    rmSync(file);
    rmSync(join(home, '.testcontainers.properties'));
  });

  it('a bad config file is ERR_CONFIG naming the file, the key path and the allowed values (exit 125, as every slipway failure)', async () => {
    const file = join(project, 'slipway.config.json');
    writeFileSync(file, JSON.stringify({ runtime: 'docker' }));
    try {
      const r = await cli(['info']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`slipway: ERR_CONFIG: invalid config file ${file}: runtime is "docker"; allowed: "native", "engine" or "auto"`);
      writeFileSync(file, JSON.stringify({ insecureRegistries: ['ok.example', 42] }));
      const bad = await cli(['pull', 'busybox']);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain(`invalid config file ${file}: insecureRegistries[1] is 42; allowed: a registry host[:port]`);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'runs containers: needs the built helper and user namespaces')('the configuration in pulls and starts', () => {
  it('the Hub prefix keys the store: `images` lists the pulled reference and `run --pull never` finds it', async () => {
    const store = join(root, 'store');
    const prefix = { SLIPWAY_CACHE_DIR: store, TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: `${registry()}/library` };
    const pulled = await cli(['pull', 'busybox'], prefix);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toContain(`docker.io/library/busybox:latest (linux/amd64): 1 layer, from registry (${fixtureRef('busybox')})`);
    const rows = (await cli(['images', '--json'], { SLIPWAY_CACHE_DIR: store })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { ref: string; pulledFrom: string });
    expect(rows).toEqual([expect.objectContaining({ ref: fixtureRef('busybox'), pulledFrom: fixtureRef('busybox') })]);
    const never = await cli(['run', '--pull', 'never', rows[0]!.ref, 'echo', 'from the store'], { SLIPWAY_CACHE_DIR: store });
    expect(never, never.stderr).toMatchObject({ code: 0, stdout: 'from the store\n' });
    // Without the prefix, `busybox` is Docker Hub's, which the store does not hold: no registry is asked.
    const hub = await cli(['run', '--pull', 'never', 'busybox', 'true'], { SLIPWAY_CACHE_DIR: store });
    expect(hub.code).toBe(125);
    expect(hub.stderr).toContain('ERR_IMAGE_NOT_PRESENT: image docker.io/library/busybox:latest (linux/amd64) is not in the store');
  });

  it('the startupTimeout setting bounds a container\'s wait when it sets none', async () => {
    const saved = process.env.SLIPWAY_STARTUP_TIMEOUT;
    process.env.SLIPWAY_STARTUP_TIMEOUT = '1500';
    try {
      const err = await new Container(fixtureRef('busybox')).withCommand(['sleep', '60']).waitFor(Wait.forLogMessage('never printed')).start().then(() => undefined, (e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_WAIT_TIMEOUT'), String(err)).toBe(true);
      expect((err as SlipwayError).shortMessage).toContain('1500');
    } finally {
      if (saved === undefined) delete process.env.SLIPWAY_STARTUP_TIMEOUT;
      else process.env.SLIPWAY_STARTUP_TIMEOUT = saved;
    }
  });
});

// Config discovery, precedence and validation on temp dirs: nothing here reads the real home or cwd.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import createDebug from 'debug';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configValue, loadConfig, propertiesValue, withSettings } from '../../../src/config/index.js';
import { SlipwayError } from '../../../src/errors.js';

let root: string;
let home: string;
let project: string;
let cwd: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'slipway-config-'));
  home = join(root, 'home');
  project = join(root, 'work', 'project');
  cwd = join(project, 'packages', 'app');
  mkdirSync(home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, content: unknown): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}
const load = (env: NodeJS.ProcessEnv = {}) => loadConfig({ cwd, env: { HOME: home, ...env } });
function failure(env: NodeJS.ProcessEnv = {}): SlipwayError {
  try {
    load(env);
  } catch (e) {
    if (SlipwayError.is(e)) return e;
    throw e;
  }
  throw new Error('loadConfig did not throw');
}

describe('config discovery', () => {
  it('uses the defaults when no file or variable is there', () => {
    const c = load();
    expect(c.values).toMatchObject({ registryMirrors: [], hubImageNamePrefix: undefined, pullPolicy: 'missing', startupTimeout: 60_000, pullTimeout: 600_000, runtime: 'native' });
    expect(c.values.storeDir).toBe(join(home, '.cache', 'slipway'));
    expect(new Set(Object.values(c.origins))).toEqual(new Set(['default']));
    expect(c.files).toEqual([]);
  });

  it('finds slipway.config.json in the nearest directory from the cwd upward', () => {
    const far = write(join(root, 'work', 'slipway.config.json'), { pullPolicy: 'never' });
    const near = write(join(project, 'slipway.config.json'), { startupTimeout: 5000 });
    const c = load();
    expect(c.values.startupTimeout).toBe(5000);
    expect(c.origins.startupTimeout).toBe(near);
    // Only the nearest project file counts (as with other tools' project files).
    expect(c.values.pullPolicy).toBe('missing');
    expect(c.files).toEqual([near]);
    expect(far).not.toBe(near);
  });

  it('reads ~/.config/slipway/config.json, or $XDG_CONFIG_HOME/slipway/config.json when set', () => {
    const user = write(join(home, '.config', 'slipway', 'config.json'), { registryMirrors: ['mirror.gcr.io'] });
    expect(load().values.registryMirrors).toEqual(['mirror.gcr.io']);
    expect(load().origins.registryMirrors).toBe(user);
    const xdg = write(join(root, 'xdg', 'slipway', 'config.json'), { registryMirrors: ['http://127.0.0.1:5000'] });
    const c = load({ XDG_CONFIG_HOME: join(root, 'xdg') });
    expect(c.values.registryMirrors).toEqual(['http://127.0.0.1:5000']);
    expect(c.origins.registryMirrors).toBe(xdg);
  });

  it('SLIPWAY_CONFIG names the project file; a missing one is an error', () => {
    const file = write(join(root, 'elsewhere.json'), { pullPolicy: 'always' });
    expect(load({ SLIPWAY_CONFIG: file }).values.pullPolicy).toBe('always');
    const e = failure({ SLIPWAY_CONFIG: join(root, 'nope.json') });
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain(join(root, 'nope.json'));
  });

  it('resolves relative directories against the file and ~/ against the home', () => {
    const file = write(join(project, 'slipway.config.json'), { storeDir: '.slipway/store', stateDir: '~/state' });
    const c = load();
    expect(c.values.storeDir).toBe(join(project, '.slipway', 'store'));
    expect(c.values.stateDir).toBe(join(home, 'state'));
    expect(c.origins.storeDir).toBe(file);
  });
});

describe('config precedence', () => {
  it('defaults < ~/.testcontainers.properties < user file < project file < TESTCONTAINERS_* < SLIPWAY_*', () => {
    const props = write(join(home, '.testcontainers.properties'), '# testcontainers\ndocker.host=unix:///x\nhub.image.name.prefix = props.example/hub\n');
    expect(load().values.hubImageNamePrefix).toBe('props.example/hub');
    expect(load().origins.hubImageNamePrefix).toBe(props);

    const user = write(join(home, '.config', 'slipway', 'config.json'), { hubImageNamePrefix: 'user.example/hub', pullPolicy: 'always' });
    expect(load().values.hubImageNamePrefix).toBe('user.example/hub');
    expect(load().origins.hubImageNamePrefix).toBe(user);

    const proj = write(join(project, 'slipway.config.json'), { hubImageNamePrefix: 'project.example/hub' });
    let c = load();
    expect(c.values.hubImageNamePrefix).toBe('project.example/hub');
    expect(c.origins.hubImageNamePrefix).toBe(proj);
    // Keys merge one by one: the user file's pullPolicy survives the project file.
    expect(c.values.pullPolicy).toBe('always');
    expect(c.origins.pullPolicy).toBe(user);
    expect(c.files).toEqual([props, user, proj]);

    c = load({ TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: 'tc.example/hub' });
    expect(c.values.hubImageNamePrefix).toBe('tc.example/hub');
    expect(c.origins.hubImageNamePrefix).toBe('env TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX');

    c = load({ TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: 'tc.example/hub', SLIPWAY_HUB_IMAGE_NAME_PREFIX: 'slipway.example/hub/' });
    expect(c.values.hubImageNamePrefix).toBe('slipway.example/hub');
    expect(c.origins.hubImageNamePrefix).toBe('env SLIPWAY_HUB_IMAGE_NAME_PREFIX');
  });

  it('reads every existing environment variable', () => {
    const c = load({
      SLIPWAY_REGISTRY_MIRROR: 'mirror.gcr.io, http://127.0.0.1:5000', SLIPWAY_INSECURE_REGISTRIES: 'registry.lan:5000',
      SLIPWAY_CREDENTIAL_HELPERS: 'registry.corp=ecr-login,ghcr.io=gh', SLIPWAY_PULL_POLICY: 'never', SLIPWAY_PULL_TIMEOUT: 'Infinity', SLIPWAY_LAYER_EXPANSION_LIMIT: '250',
      SLIPWAY_STARTUP_TIMEOUT: '1500', SLIPWAY_CACHE_DIR: 'rel/store', SLIPWAY_STATE_DIR: '/run/x', SLIPWAY_RUNTIME: 'native',
      TESTCONTAINERS_REUSE_ENABLE: 'false', SLIPWAY_REUSE_IDLE_TIMEOUT: '2500',
      SLIPWAY_REAPER: 'off', SLIPWAY_REAPER_IMAGE: 'debian:12', SLIPWAY_REAPER_RECONNECT_TIMEOUT: '3000', SLIPWAY_REAPER_PRIVILEGED: 'true', SLIPWAY_DOCKER_SOCKET_OVERRIDE: '/d.sock',
      SLIPWAY_NETWORK_POOL: 'false',
    });
    expect(c.values).toEqual({
      registryMirrors: ['mirror.gcr.io', 'http://127.0.0.1:5000'], hubImageNamePrefix: undefined, insecureRegistries: ['registry.lan:5000'],
      credentialHelpers: { 'registry.corp': 'ecr-login', 'ghcr.io': 'gh' }, pullPolicy: 'never', pullTimeout: Infinity, layerExpansionLimit: 250, startupTimeout: 1500,
      storeDir: join(cwd, 'rel', 'store'), stateDir: '/run/x', runtime: 'native',
      reuse: false, reuseIdleTimeout: 2500,
      reaper: 'off', reaperImage: 'debian:12', reaperReconnectTimeout: 3000, reaperPrivileged: true, dockerSocketOverride: '/d.sock',
      networkPool: false,
    });
    expect(c.origins.storeDir).toBe('env SLIPWAY_CACHE_DIR');
  });

  it('reuse: on by default; testcontainers.reuse.enable and TESTCONTAINERS_REUSE_ENABLE turn it off; a bad value is ERR_CONFIG', () => {
    expect(load().values.reuse).toBe(true);
    const props = write(join(home, '.testcontainers.properties'), 'testcontainers.reuse.enable=false\n');
    expect(load().values.reuse).toBe(false);
    expect(load().origins.reuse).toBe(props);
    expect(load({ TESTCONTAINERS_REUSE_ENABLE: 'true' }).values.reuse).toBe(true);
    expect(load({ TESTCONTAINERS_REUSE_ENABLE: 'true', SLIPWAY_REUSE: 'no' }).values.reuse).toBe(false);
    expect(() => load({ TESTCONTAINERS_REUSE_ENABLE: 'maybe' })).toThrow(/TESTCONTAINERS_REUSE_ENABLE: "maybe"; allowed: true or false/);
    expect(() => load({ SLIPWAY_REUSE_IDLE_TIMEOUT: '0' })).toThrow(/SLIPWAY_REUSE_IDLE_TIMEOUT/);
  });

  it('the store defaults under $XDG_CACHE_HOME', () => {
    expect(load({ XDG_CACHE_HOME: join(root, 'cache') }).values.storeDir).toBe(join(root, 'cache', 'slipway'));
  });
});

describe('config validation', () => {
  it('a file that is not JSON names the file', () => {
    const file = write(join(project, 'slipway.config.json'), '{ "pullPolicy": "always", }');
    const e = failure();
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain(`${file} is not valid JSON`);
  });

  it('an unknown key names the file, the key and the allowed keys', () => {
    const file = write(join(project, 'slipway.config.json'), { registryMirror: 'mirror.gcr.io' });
    const e = failure();
    expect(e.shortMessage).toBe(`${file}: unknown setting "registryMirror"; allowed: registryMirrors, hubImageNamePrefix, insecureRegistries, credentialHelpers, pullPolicy, pullTimeout, layerExpansionLimit, startupTimeout, storeDir, stateDir, runtime, reuse, reuseIdleTimeout, reaper, reaperImage, reaperReconnectTimeout, reaperPrivileged, dockerSocketOverride, networkPool`);
  });

  it('a bad value names the file, the key path and the allowed values', () => {
    const file = write(join(home, '.config', 'slipway', 'config.json'), { registryMirrors: ['mirror.gcr.io', 'ftp://x/y'] });
    let e = failure();
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.shortMessage).toBe(`invalid config file ${file}: registryMirrors[1] is "ftp://x/y"; allowed: a registry host[:port] or http(s)://host[:port], e.g. "mirror.gcr.io"`);
    expect(e.hint).toContain('slipway info');

    write(file, { pullPolicy: 'sometimes' });
    e = failure();
    expect(e.shortMessage).toBe(`invalid config file ${file}: pullPolicy is "sometimes"; allowed: "missing", "always" or "never"`);

    write(file, { credentialHelpers: { 'registry.corp': 'bad helper' } });
    expect(failure().shortMessage).toContain('credentialHelpers.registry.corp is "bad helper"');

    write(file, { startupTimeout: '60s' });
    expect(failure().shortMessage).toContain('startupTimeout is "60s"; allowed: a positive number of milliseconds');

    write(file, ['pullPolicy']);
    expect(failure().shortMessage).toContain('the top level is an array');
  });

  it('a bad environment variable names the variable', () => {
    const e = failure({ SLIPWAY_PULL_POLICY: 'sometimes' });
    expect(e.shortMessage).toBe('invalid SLIPWAY_PULL_POLICY: "sometimes"; allowed: "missing", "always" or "never"');
  });

  it('runtime is native, engine or auto; anything else is refused with the three names', () => {
    const file = write(join(project, 'slipway.config.json'), { runtime: 'docker' });
    let e = failure();
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.shortMessage).toBe(`invalid config file ${file}: runtime is "docker"; allowed: "native", "engine" or "auto"`);
    rmSync(file);
    e = failure({ SLIPWAY_RUNTIME: 'podman' });
    expect(e.shortMessage).toBe('invalid SLIPWAY_RUNTIME: "podman"; allowed: "native", "engine" or "auto"');
    for (const r of ['native', 'engine', 'auto'] as const) expect(load({ SLIPWAY_RUNTIME: r }).values.runtime).toBe(r);
  });
});

describe('propertiesValue', () => {
  it('reads key=value, key: value and key value, the last one winning', () => {
    expect(propertiesValue('a=1\nhub.image.name.prefix=x\n', 'hub.image.name.prefix')).toBe('x');
    expect(propertiesValue('hub.image.name.prefix: y', 'hub.image.name.prefix')).toBe('y');
    expect(propertiesValue('hub.image.name.prefix z\n#hub.image.name.prefix=no', 'hub.image.name.prefix')).toBe('z');
    expect(propertiesValue('hub.image.name.prefix=a\nhub.image.name.prefix=b', 'hub.image.name.prefix')).toBe('b');
    expect(propertiesValue('hub.image.name.prefixx=a', 'hub.image.name.prefix')).toBeUndefined();
  });
});

describe('config in odd places', () => {
  it('a working directory removed under the process skips the project file instead of failing', async () => {
    const { execFileSync } = await import('node:child_process');
    const gone = join(root, 'gone');
    mkdirSync(gone);
    const mod = join(import.meta.dirname, '../../../src/config/index.ts');
    // A child process, since vitest's workers may not chdir; vite-node runs the TypeScript source.
    const viteNode = join(import.meta.dirname, '../../../node_modules/vite-node/vite-node.mjs');
    const script = join(root, 'probe.mts');
    writeFileSync(script, `import { rmSync } from 'node:fs';\nimport { loadConfig } from ${JSON.stringify(mod)};\nprocess.chdir(${JSON.stringify(gone)});\nrmSync(${JSON.stringify(gone)}, { recursive: true });\nconsole.log(JSON.stringify(loadConfig({ env: { HOME: ${JSON.stringify(home)} } }).files));\n`);
    const out = execFileSync(process.execPath, [viteNode, script], { encoding: 'utf8', cwd: join(import.meta.dirname, '../../..') });
    expect(out.trim().split('\n').at(-1)).toBe('[]');
  });
});

describe('settings read once per operation (withSettings)', () => {
  const reads: string[] = [];
  const saved = { log: createDebug.log, namespaces: createDebug.disable() };
  beforeEach(() => {
    reads.length = 0;
    createDebug.enable('slipway:config');
    createDebug.log = (...args: unknown[]) => { reads.push(format(...args)); };
  });
  afterEach(() => {
    createDebug.log = saved.log;
    createDebug.enable(saved.namespaces);
  });

  it('reads the files once however often the operation asks, and the next operation sees an edit', async () => {
    const file = write(join(project, 'slipway.config.json'), { startupTimeout: 1000 });
    const sources = { cwd, env: { HOME: home } };
    const seen = await withSettings(async () => {
      const a = loadConfig(sources).values.startupTimeout;
      await new Promise((r) => setImmediate(r));
      write(file, { startupTimeout: 2000 }); // same size: one operation keeps the reading it started with
      return [a, loadConfig(sources).values.startupTimeout, configValue('startupTimeout', sources.env), loadConfig(sources).values.startupTimeout];
    }, sources);
    expect(seen).toEqual([1000, 1000, 1000, 1000]);
    expect(reads).toHaveLength(1);
    expect(await withSettings(async () => loadConfig(sources).values.startupTimeout, sources)).toBe(2000);
    expect(reads).toHaveLength(2);
  });

  it('shares the reading with a nested operation, hands out copies, and reads afresh after the operation ended', async () => {
    const file = write(join(project, 'slipway.config.json'), { startupTimeout: 1000 });
    const sources = { cwd, env: { HOME: home } };
    let later: (() => number) | undefined;
    await withSettings(async () => {
      loadConfig(sources).values.registryMirrors.push('poisoned.example');
      configValue('registryMirrors', sources.env).push('poisoned-too.example');
      expect(await withSettings(async () => loadConfig(sources).values.registryMirrors, sources)).toEqual([]);
      expect(configValue('registryMirrors', sources.env)).toEqual([]);
      // Other sources are not this operation's: read now.
      expect(loadConfig({ cwd, env: { HOME: home, SLIPWAY_STARTUP_TIMEOUT: '5' } }).values.startupTimeout).toBe(5);
      later = () => loadConfig(sources).values.startupTimeout;
    }, sources);
    expect(reads).toHaveLength(2);
    write(file, { startupTimeout: 3000 });
    expect(later!()).toBe(3000);
  });

  it('reads nothing for an operation that asks for no setting, so a broken file fails only what needs it', async () => {
    write(join(project, 'slipway.config.json'), '{ not json');
    const sources = { cwd, env: { HOME: home } };
    await expect(withSettings(async () => 'no setting asked', sources)).resolves.toBe('no setting asked');
    await expect(withSettings(async () => loadConfig(sources), sources)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});

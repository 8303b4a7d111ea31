// The engine's reaper settings go through the settings table like every other: file + environment, validated,
// ERR_CONFIG naming the variable or file key and the allowed values, and an origin for `slipway info`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { SlipwayError } from '../../../src/errors.js';
import { reaperCreateBody } from '../../../src/engine/reaper.js';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'slipway-engine-settings-')); mkdirSync(join(root, 'home')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));
const load = (env: NodeJS.ProcessEnv = {}) => loadConfig({ cwd: root, env: { HOME: join(root, 'home'), ...env } });
function failure(env: NodeJS.ProcessEnv): SlipwayError {
  try { load(env); } catch (e) { if (SlipwayError.is(e)) return e; throw e; }
  throw new Error('loadConfig did not throw');
}

describe('engine reaper settings', () => {
  it('defaults: reaper auto, Debian slim image, 10 s reconnect grace, no socket override', () => {
    const c = load();
    expect(c.values).toMatchObject({ reaper: 'auto', reaperImage: 'debian:bookworm-slim', reaperReconnectTimeout: 10_000, dockerSocketOverride: undefined });
    expect(c.origins.reaper).toBe('default');
  });

  it('reads SLIPWAY_* and testcontainers\' names, SLIPWAY_* first, each with its origin', () => {
    const c = load({
      SLIPWAY_REAPER: 'ON', SLIPWAY_REAPER_IMAGE: '127.0.0.1:5000/library/debian:12', TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: '1m30s',
      TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE: '/run/user/1000/docker.sock',
    });
    expect(c.values).toMatchObject({ reaper: 'on', reaperImage: '127.0.0.1:5000/library/debian:12', reaperReconnectTimeout: 90_000, dockerSocketOverride: '/run/user/1000/docker.sock' });
    expect(c.origins).toMatchObject({ reaper: 'env SLIPWAY_REAPER', reaperReconnectTimeout: 'env TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT', dockerSocketOverride: 'env TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE' });
    expect(load({ SLIPWAY_DOCKER_SOCKET_OVERRIDE: '/a.sock', TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE: '/b.sock' }).values.dockerSocketOverride).toBe('/a.sock');
    expect(load({ SLIPWAY_REAPER_RECONNECT_TIMEOUT: '2500' }).values.reaperReconnectTimeout).toBe(2500);
    // testcontainers' switch says whether Ryuk is disabled.
    expect(load({ TESTCONTAINERS_RYUK_DISABLED: 'true' }).values.reaper).toBe('off');
    expect(load({ TESTCONTAINERS_RYUK_DISABLED: 'false' }).values.reaper).toBe('auto');
    expect(load({ SLIPWAY_REAPER: 'on', TESTCONTAINERS_RYUK_DISABLED: 'true' }).values.reaper).toBe('on');
  });

  it('reaperPrivileged: off by default; SLIPWAY_REAPER_PRIVILEGED, TESTCONTAINERS_RYUK_PRIVILEGED, ryuk.container.privileged, a config file', () => {
    expect(load().values.reaperPrivileged).toBe(false);
    expect(load({ TESTCONTAINERS_RYUK_PRIVILEGED: 'true' }).values.reaperPrivileged).toBe(true);
    expect(load({ SLIPWAY_REAPER_PRIVILEGED: 'false', TESTCONTAINERS_RYUK_PRIVILEGED: 'true' }).values.reaperPrivileged).toBe(false);
    writeFileSync(join(root, 'home', '.testcontainers.properties'), 'ryuk.container.privileged=true\n');
    expect(load().values.reaperPrivileged).toBe(true);
    rmSync(join(root, 'home', '.testcontainers.properties'));
    writeFileSync(join(root, 'slipway.config.json'), JSON.stringify({ reaperPrivileged: true }));
    expect(load().values.reaperPrivileged).toBe(true);
    expect(failure({ TESTCONTAINERS_RYUK_PRIVILEGED: 'sure' }).message).toContain('TESTCONTAINERS_RYUK_PRIVILEGED');
  });

  it('the reaper container is privileged only when asked', () => {
    const opts = { image: 'debian:12', bindIp: '127.0.0.1', host: '127.0.0.1', session: 's', sessionLabel: 'l' };
    expect((reaperCreateBody(opts, 10).HostConfig as Record<string, unknown>).Privileged).toBeUndefined();
    expect(reaperCreateBody({ ...opts, privileged: true }, 10).HostConfig).toMatchObject({ Privileged: true, AutoRemove: true });
  });

  it('reads them from a config file', () => {
    const file = join(root, 'slipway.config.json');
    writeFileSync(file, JSON.stringify({ reaper: 'off', reaperImage: 'debian:12', reaperReconnectTimeout: '5s', dockerSocketOverride: '/var/run/docker.sock' }));
    const c = load();
    expect(c.values).toMatchObject({ reaper: 'off', reaperImage: 'debian:12', reaperReconnectTimeout: 5000, dockerSocketOverride: '/var/run/docker.sock' });
    expect(c.origins.reaper).toBe(file);
  });

  it('a bad value is ERR_CONFIG naming the variable or key, the allowed values and the fix', () => {
    const e = failure({ SLIPWAY_REAPER: 'yes' });
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain('SLIPWAY_REAPER');
    expect(e.message).toContain('"auto", "on" or "off"');
    expect(e.hint).toContain('SLIPWAY_REAPER');
    expect(failure({ TESTCONTAINERS_RYUK_DISABLED: 'maybe' }).message).toContain('true or false');
    expect(failure({ SLIPWAY_REAPER_RECONNECT_TIMEOUT: '10 parsecs' }).message).toContain('SLIPWAY_REAPER_RECONNECT_TIMEOUT');
    expect(failure({ SLIPWAY_REAPER_RECONNECT_TIMEOUT: '-5' }).code).toBe('ERR_CONFIG');
    expect(failure({ SLIPWAY_REAPER_IMAGE: 'has space' }).message).toContain('perl');
    // A path on the engine's host: relative or `host:container` forms are mistakes.
    expect(failure({ SLIPWAY_DOCKER_SOCKET_OVERRIDE: 'docker.sock' }).message).toContain('absolute path');
    expect(failure({ SLIPWAY_DOCKER_SOCKET_OVERRIDE: '/a.sock:/var/run/docker.sock' }).code).toBe('ERR_CONFIG');
    writeFileSync(join(root, 'slipway.config.json'), JSON.stringify({ reaper: true }));
    const f = failure({});
    expect(f.message).toContain(join(root, 'slipway.config.json'));
    expect(f.message).toContain('reaper is true');
  });
});

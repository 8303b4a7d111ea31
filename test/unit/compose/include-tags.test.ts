// The Compose Specification's `include`, the `!reset`/`!override` merge tags, and top-level secrets/configs as
// loaded (no containers started here; test/integration/compose mounts them).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ComposeEnvironment } from '../../../src/compose/compose-environment.js';
import { serviceContainer } from '../../../src/compose/service.js';
import { SlipwayError } from '../../../src/errors.js';

const tmp: string[] = [];
afterAll(() => { for (const d of tmp) rmSync(d, { recursive: true, force: true }); });

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-compose-'));
  tmp.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function thrown(f: () => unknown): SlipwayError {
  try {
    f();
  } catch (e) {
    if (SlipwayError.is(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('include', () => {
  it('adds the included project\'s resources, its paths against its own directory and its env_file as defaults', () => {
    const d = project({
      'compose.yml': 'include:\n  - path: db/compose.yml\n    env_file: db/db.env\nservices:\n  app: { image: app, depends_on: [db] }\n',
      'db/compose.yml': 'services:\n  db:\n    image: "postgres:${PG_TAG}"\n    volumes: [./init:/docker-entrypoint-initdb.d, data:/var/lib/postgresql/data]\nvolumes:\n  data: {}\n',
      'db/db.env': 'PG_TAG=15\n',
    });
    const doc = new ComposeEnvironment(d).config();
    expect(Object.keys(doc.services).sort()).toEqual(['app', 'db']);
    expect(doc.services.db!.image).toBe('postgres:15');
    expect(doc.services.db!.volumes).toEqual([
      { type: 'bind', source: join(d, 'db/init'), target: '/docker-entrypoint-initdb.d', read_only: false },
      { type: 'volume', source: 'data', target: '/var/lib/postgresql/data', read_only: false },
    ]);
    expect(Object.keys(doc.volumes)).toEqual(['data']);
    expect(doc.include).toBeUndefined();
    // The process environment and withEnvironment win over the include's env_file.
    expect(new ComposeEnvironment(d).withEnvironment({ PG_TAG: '16' }).config().services.db!.image).toBe('postgres:16');
  });

  it('a service defined on both sides is an error naming it; an include cycle too', () => {
    const d = project({
      'compose.yml': 'include: [other.yml]\nservices:\n  web: { image: x }\n',
      'other.yml': 'services:\n  web: { image: y }\n',
      'a.yml': 'include: [b.yml]\nservices:\n  a: { image: x }\n',
      'b.yml': 'include: [a.yml]\nservices:\n  b: { image: x }\n',
    });
    expect(thrown(() => new ComposeEnvironment(d).config()).message).toMatch(/services\.web is defined both here .* by the included .*other\.yml/);
    expect(thrown(() => new ComposeEnvironment(d, 'a.yml').config()).message).toMatch(/include cycle: .*a\.yml → .*b\.yml → .*a\.yml/);
  });
});

describe('!reset and !override', () => {
  const d = project({
    'compose.yml': [
      'services:',
      '  web:',
      '    image: x',
      '    ports: ["8080:80", "8443:443"]',
      '    environment: { A: "1", B: "2" }',
      '    command: ["serve"]',
      '    healthcheck: { test: ["CMD", "true"], interval: 1s }',
      '  worker:',
      '    extends: web',
      '    ports: !reset []',
      '    environment: !override { C: "3" }',
      '',
    ].join('\n'),
    'compose.test.yml': [
      'services:',
      '  web:',
      '    ports: !override ["9090:80"]',
      '    environment:',
      '      A: !reset null',
      '      D: "4"',
      '    healthcheck: !reset {}',
      '',
    ].join('\n'),
  });
  const doc = new ComposeEnvironment(d, ['compose.yml', 'compose.test.yml']).config();

  it('in an override file: !override replaces a sequence or mapping, !reset removes a key or one entry', () => {
    expect(doc.services.web!.ports).toEqual(['9090:80']);
    expect(doc.services.web!.environment).toEqual({ B: '2', D: '4' });
    expect(doc.services.web!.healthcheck).toBeUndefined();
    expect(doc.services.web!.command).toEqual(['serve']);
  });

  it('with extends: the extending service resets or overrides what it inherits', () => {
    expect(doc.services.worker!.ports).toBeUndefined();
    expect(doc.services.worker!.environment).toEqual({ C: '3' });
    expect(doc.services.worker!.command).toEqual(['serve']);
  });

  it('without tags the same files merge as before (sequences appended, maps merged)', () => {
    const plain = project({
      'a.yml': 'services:\n  web: { image: x, ports: ["8080:80"], environment: { A: "1" } }\n',
      'b.yml': 'services:\n  web: { ports: ["9090:80"], environment: { B: "2" } }\n',
    });
    const web = new ComposeEnvironment(plain, ['a.yml', 'b.yml']).config().services.web!;
    expect(web.ports).toEqual(['8080:80', '9090:80']);
    expect(web.environment).toEqual({ A: '1', B: '2' });
  });
});

describe('secrets and configs', () => {
  const d = project({
    'compose.yml': [
      'services:',
      '  app:',
      '    image: x',
      '    network_mode: none',
      '    secrets: [db_password, { source: api_key, target: key.txt }]',
      '    configs: [{ source: app_conf, target: /etc/app.conf }, banner]',
      'secrets:',
      '  db_password: { file: ./secrets/db_password.txt }',
      '  api_key: { environment: API_KEY }',
      'configs:',
      '  app_conf: { file: ./app.conf }',
      '  banner: { content: "hello ${WHO}" }',
      '',
    ].join('\n'),
    'secrets/db_password.txt': 's3cret\n',
    'app.conf': 'x=1\n',
  });

  it('file paths are absolute; a service mounts each read-only at /run/secrets/<name> and the config target', () => {
    const doc = new ComposeEnvironment(d).withEnvironment({ API_KEY: 'k', WHO: 'world' }).config();
    expect(doc.secrets.db_password).toEqual({ file: join(d, 'secrets/db_password.txt') });
    expect(doc.configs.banner).toEqual({ content: 'hello world' });
    const written: Record<string, string> = {};
    const c = serviceContainer({
      project: 'p', vars: { API_KEY: 'k' }, networks: new Map(), volumes: new Map(), anonymousVolume: () => { throw new Error('none'); }, image: 'x',
      secrets: doc.secrets, configs: doc.configs,
      materialize: (kind, name, content) => { written[`${kind}/${name}`] = content; return `/values/${kind}-${name}`; },
    }, 'app', doc.services.app!, 1).options;
    expect(c.mounts).toEqual([
      { kind: 'bind', source: join(d, 'secrets/db_password.txt'), target: '/run/secrets/db_password', readonly: true },
      { kind: 'bind', source: '/values/secrets-api_key', target: '/run/secrets/key.txt', readonly: true },
      { kind: 'bind', source: join(d, 'app.conf'), target: '/etc/app.conf', readonly: true },
      { kind: 'bind', source: '/values/configs-banner', target: '/banner', readonly: true },
    ]);
    expect(written).toEqual({ 'secrets/api_key': 'k', 'configs/banner': 'hello world' });
  });

  it('an undeclared secret is an error naming it', () => {
    const e = project({ 'compose.yml': 'services:\n  app: { image: x, network_mode: none, secrets: [nope] }\n' });
    const doc = new ComposeEnvironment(e).config();
    const ctx = { project: 'p', vars: {}, networks: new Map(), volumes: new Map(), anonymousVolume: () => { throw new Error('none'); }, image: 'x', secrets: doc.secrets, configs: doc.configs, materialize: () => '' };
    expect(thrown(() => serviceContainer(ctx, 'app', doc.services.app!, 1)).message).toMatch(/service app: secrets\.nope: "nope" is not declared in the top-level secrets/);
  });
});

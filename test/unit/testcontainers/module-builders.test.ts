/**
 * Every `with*` of every `slipway/testcontainers` module, called as a statement (result dropped), must change what
 * `start()` would start and return the builder itself — a migrating suite configures modules that way
 * (`const c = new X(img); c.withY(); await c.start()`). A new `with*` fails the coverage check until it is listed here.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Container } from '../../../src/api/container.js';
import * as tc from '../../../src/testcontainers.js';
import { GenericContainer, Network, PullPolicy, Wait } from '../../../src/testcontainers.js';

type AnyModule = GenericContainer & Record<string, (...args: unknown[]) => unknown>;

/** The module classes of `slipway/testcontainers`: every exported GenericContainer subclass. */
const modules = Object.entries(tc)
  .filter(([, v]) => typeof v === 'function' && v.prototype instanceof GenericContainer && !/^(Service|Abstract)/.test(v.name))
  .map(([name, ctor]) => ({ name, make: () => new (ctor as unknown as new (image: string) => AnyModule)(`example/${name.toLowerCase()}:1`) }));

/** What start() would start, plus the module's settings (some only act after start, e.g. withInitialData). */
async function state(c: GenericContainer): Promise<string> {
  const built = await (c as unknown as { build(): Promise<Container> }).build();
  const settings = (c as unknown as { settings: unknown }).settings;
  const { waitStrategy, ...options } = built.options;
  const wait = (waitStrategy as { describe?(): string } | undefined)?.describe?.() ?? String(waitStrategy);
  return JSON.stringify({ options, wait, settings }, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
}

interface Case {
  args: () => unknown[];
  /** Called first (e.g. a network for aliases). */
  before?: (c: AnyModule) => void;
  /** Why this call changes nothing visible before start (only its returning `this` is checked here). */
  noVisibleChange?: string;
  /** The call is refused: the error code. */
  throws?: string;
}

const tar = () => {
  // a one-file ustar archive, built by hand: name "f", 1 byte
  const h = Buffer.alloc(512);
  h.write('f', 0); h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
  h.write('00000000001\0', 124); h.write('00000000000\0', 136); h.write('        ', 148); h.write('0', 156); h.write('ustar\x0000', 257);
  let sum = 0; for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(512); body.write('x');
  return Readable.from([Buffer.concat([h, body, Buffer.alloc(1024)])]);
};

/** Arguments per method name (the module-specific ones included: the same name takes the same kind of value). */
const CASES: Record<string, Case> = {
  // the modules' own
  withDatabase: { args: () => ['shop'] },
  withUsername: { args: () => ['alice'] },
  withPassword: { args: () => ['pw-1'] },
  withUserPassword: { args: () => ['pw-2'] },
  withRootPassword: { args: () => ['pw-3'] },
  withPass: { args: () => ['pw-4'] },
  withArg: { args: () => ['--max_payload', '2MB'] },
  withJetStream: { args: () => [] },
  withNodeName: { args: () => ['node-7'] },
  withPersistence: { args: () => ['/tmp/slipway-unit-redis'] },
  withInitialData: { args: () => ['/tmp/slipway-unit-import.redis'] },
  withSSL: { args: () => ['/h/server.crt', '/h/server.key'] },
  withSSLCert: { args: () => ['/h/ca.crt', '/h/server.crt', '/h/server.key'] },
  withBaseDn: { args: () => ['dc=shop,dc=test'] },
  withOrganisation: { args: () => ['Shop Ltd'] },
  withAdminPassword: { args: () => ['pw-5'] },
  // GenericContainer's
  withExposedPorts: { args: () => [18080] },
  withEnvironment: { args: () => [{ TZ: 'UTC' }] },
  withCommand: { args: () => [['run', 'me']] },
  withEntrypoint: { args: () => [['/bin/sh', '-c']] },
  withName: { args: () => ['unit-module'] },
  withLabels: { args: () => [{ team: 'a' }] },
  withUser: { args: () => ['1234'] },
  withWorkingDir: { args: () => ['/srv'] },
  withHostname: { args: () => ['box'] },
  withAddedCapabilities: { args: () => ['NET_ADMIN'] },
  withDroppedCapabilities: { args: () => ['CHOWN'] },
  withSecurityOpt: { args: () => ['no-new-privileges'] },
  withPrivilegedMode: { args: () => [] },
  withIpcMode: { args: () => ['private'], noVisibleChange: 'every slipway container has its own IPC namespace already' },
  withDefaultLogDriver: { args: () => [], noVisibleChange: 'documented no-op (logs are always kept)' },
  withAutoRemove: { args: () => [false], noVisibleChange: 'read by start() (which handle it returns)' },
  withAutoCleanup: { args: () => [false], noVisibleChange: 'documented no-op (no Ryuk; the keeper cleans up)' },
  withReuse: { args: () => [], noVisibleChange: 'read by start() (reuse within the test process)' },
  withSnapshot: { args: () => [{ salt: 'unit' }] },
  withExtraHosts: { args: () => [[{ host: 'db', ipAddress: '10.1.2.3' }]] },
  withSharedMemorySize: { args: () => [1 << 20] },
  withUlimits: { args: () => [{ nofile: { soft: 100, hard: 200 } }] },
  withWaitStrategy: { args: () => [Wait.forLogMessage('statement-style')] },
  withHealthCheck: { args: () => [{ test: ['CMD', 'true'], interval: 100 }] },
  withStartupTimeout: { args: () => [7_000] },
  withPlatform: { args: () => ['linux/arm64'] },
  withNetworkMode: { args: () => ['none'] },
  withNetwork: { args: () => [new Network()] },
  withNetworkAliases: { args: () => ['alias-1'], before: (c) => { c.withNetwork(new Network()); } },
  withResourcesQuota: { args: () => [{ memory: 0.5, cpu: 0.5 }] },
  withBindMounts: { args: () => [[{ source: '/tmp', target: '/mnt/host' }]] },
  withTmpFs: { args: () => [{ '/scratch': 'rw,size=1m' }] },
  withCopyContentToContainer: { args: () => [[{ content: 'x', target: '/etc/x.conf' }]] },
  withCopyFilesToContainer: { args: () => [[{ source: '/etc/hostname', target: '/tmp/h' }]] },
  withCopyDirectoriesToContainer: { args: () => [[{ source: '/etc', target: '/tmp/etc' }]] },
  withCopyArchivesToContainer: { args: () => [[{ tar: tar(), target: '/opt' }]] },
  withCopyToContainerOptions: {
    args: () => [{ copyUIDGID: true }],
    before: (c) => { c.withCopyContentToContainer([{ content: 'x', target: '/etc/y.conf' }]); },
  },
  withLogConsumer: { args: () => [() => undefined], noVisibleChange: 'read by start() (consumers get the logs once the process runs)' },
  withPullPolicy: { args: () => [PullPolicy.alwaysPull()] },
};

function withMethods(c: object): string[] {
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(c) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) if (/^with[A-Z]/.test(n) && typeof (c as Record<string, unknown>)[n] === 'function') names.add(n);
  }
  return [...names].sort();
}

describe('every with* of every slipway/testcontainers module mutates the builder and returns it', () => {
  it('finds the modules', () => {
    expect(modules.map((m) => m.name)).toEqual(expect.arrayContaining(['PostgreSqlContainer', 'RedisContainer', 'MariaDbContainer', 'MySqlContainer',
      'NginxContainer', 'MemcachedContainer', 'NatsContainer', 'MosquittoContainer', 'EtcdContainer', 'RabbitMQContainer', 'ZooKeeperContainer',
      'OpenLdapContainer']));
  });

  it('every with* method is in the table', () => {
    const missing = [...new Set(modules.flatMap((m) => withMethods(m.make())))].filter((n) => !(n in CASES));
    expect(missing, 'add the method to CASES in this file').toEqual([]);
  });

  for (const m of modules) {
    for (const method of withMethods(m.make())) {
      const k = CASES[method];
      if (!k) continue;
      it(`${m.name}.${method}`, async () => {
        const c = m.make();
        k.before?.(c);
        const before = await state(c);
        if (k.throws) {
          expect(() => c[method]!(...k.args())).toThrow(expect.objectContaining({ code: k.throws }));
          return;
        }
        expect(c[method]!(...k.args())).toBe(c);
        const after = await state(c);
        if (k.noVisibleChange) expect(after).toBe(before);
        else expect(after).not.toBe(before);
      });
    }
  }
});

describe('every slipway/testcontainers module has a default wait (issue 10: the same care for every module)', () => {
  it('a readiness check beyond "the process runs", with testcontainers\' 120 s, unless you chose a strategy', async () => {
    for (const { name, make } of modules) {
      const o = (await (make() as unknown as { build(): Promise<Container> }).build()).options;
      const wait = (o.waitStrategy as { describe?(): string } | undefined)?.describe?.();
      expect(wait, `${name}: a default wait strategy`).toBeTruthy();
      // testcontainers' modules wait for the service (a log line, a health check, the ports or HTTP), never nothing.
      expect(wait, name).toMatch(/port|command|log|HTTP|health/i);
      expect(o.startupTimeout, name).toBe(120_000);
      const chosen = Wait.forLogMessage('mine');
      const c = make();
      c.withWaitStrategy(chosen);
      expect((await (c as unknown as { build(): Promise<Container> }).build()).options.waitStrategy, `${name}: the user's strategy`).toBe(chosen);
    }
    expect(modules.map((m) => m.name).sort()).toEqual(expect.arrayContaining(['EtcdContainer', 'MariaDbContainer', 'MemcachedContainer', 'MosquittoContainer',
      'MySqlContainer', 'NatsContainer', 'NginxContainer', 'OpenLdapContainer', 'PostgreSqlContainer', 'RabbitMQContainer', 'RedisContainer', 'ZooKeeperContainer']));
  });
});

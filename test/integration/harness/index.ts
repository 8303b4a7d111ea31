/**
 * Helpers for integration tests: where the real registry and the fixture images are, and loud,
 * explained skips for suites this machine cannot run.
 *
 * @example
 * ```ts
 * import { fixtureRef, isRoot, skipUnless } from '../harness/index.js';
 * skipUnless(isRoot(), 'cgroup v1 limits need root')('memory limit', () => {
 *   it('kills on OOM', async () => { ... fixtureRef('busybox') ... });
 * });
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, inject, it } from 'vitest';

export { isPoolProcess, isSpareHelper, keeperHasReadySpare, netnsOf, outboundHelpersOf } from './netns-pool.js';

/** The fixture images built by scripts/fixtures/build.sh. */
export type FixtureName = 'busybox' | 'debian' | 'redis' | 'postgres' | 'nginx' | 'mariadb' | 'memcached' | 'nats' | 'mosquitto' | 'etcd' | 'rabbitmq' | 'testcontainer' | 'zookeeper' | 'openldap';

/**
 * Tags pushed for each fixture (each under `library/<name>` and `<name>`). The first is the default.
 * busybox `config` has Entrypoint/Env/User app/WorkingDir/ExposedPorts 8080/tcp+9090/udp set;
 * busybox `multi` is an image index (linux/amd64 real, linux/arm64/v8 fake with the same layers).
 * testcontainer `1.1.14` stands in for `cristianrgreco/testcontainer:1.1.14` and `udp` for `mendhak/udp-listener`
 * (both also pushed under those Docker Hub names; see scripts/fixtures/README.md).
 */
export const FIXTURE_TAGS: Readonly<Record<FixtureName, readonly string[]>> = Object.freeze({
  busybox: ['latest', '1', 'config', 'multi'],
  debian: ['bookworm', 'latest', '12'],
  redis: ['7', 'latest', 'stack'],
  postgres: ['15', 'latest'],
  nginx: ['1', 'latest'],
  mariadb: ['10.11', 'latest'],
  memcached: ['1.6', 'latest'],
  nats: ['2.9', 'latest'],
  mosquitto: ['2', 'latest'],
  etcd: ['3.4', 'latest'],
  rabbitmq: ['3-management', 'latest'],
  testcontainer: ['1.1.14', 'latest', 'udp'],
  zookeeper: ['3.8', 'latest'],
  openldap: ['2.5', 'latest'],
});

function provided<K extends 'registry' | 'registryAuth' | 'fixturesDir'>(key: K, env: string): string {
  let value: string | undefined;
  try {
    value = inject(key) as string | undefined;
  } catch {
    // not inside a vitest worker with the integration globalSetup
  }
  value ||= process.env[env];
  if (!value) {
    throw new Error(`${key} is not set: run integration tests with \`npx vitest run --project integration\` (its globalSetup starts the registry), or set ${env}`);
  }
  return value;
}

/** `127.0.0.1:<port>` of the open test registry (plain HTTP). */
export function registry(): string {
  return provided('registry', 'SLIPWAY_TEST_REGISTRY');
}

/** The registry that demands HTTP basic auth (same content as {@link registry}). */
export function authRegistry(): { address: string; username: string; password: string } {
  const address = provided('registryAuth', 'SLIPWAY_TEST_REGISTRY_AUTH');
  let creds: { username: string; password: string } | undefined;
  try {
    creds = inject('registryCredentials');
  } catch {
    // fall back to env
  }
  return {
    address,
    username: creds?.username ?? process.env.SLIPWAY_TEST_REGISTRY_USER ?? 'slipway',
    password: creds?.password ?? process.env.SLIPWAY_TEST_REGISTRY_PASSWORD ?? 'slipway-secret',
  };
}

/**
 * A reference to a fixture in the open registry, e.g. `127.0.0.1:41234/library/redis:7`.
 * @param tag - defaults to the fixture's main tag (busybox latest, debian bookworm, redis 7, postgres 15, nginx 1)
 * @param options.library - `false` gives `<registry>/<name>:<tag>` instead of `<registry>/library/<name>:<tag>`
 */
export function fixtureRef(name: FixtureName, tag?: string, options: { library?: boolean } = {}): string {
  const tags = FIXTURE_TAGS[name];
  if (!tags) throw new TypeError(`unknown fixture \`${String(name)}\`; expected one of ${Object.keys(FIXTURE_TAGS).join(', ')}`);
  const t = tag ?? tags[0];
  if (!tags.includes(t!)) throw new TypeError(`fixture ${name} has no tag \`${t}\`; pushed tags: ${tags.join(', ')}`);
  return `${registry()}/${options.library === false ? '' : 'library/'}${name}:${t}`;
}

/** The fixtures dir (`$SLIPWAY_FIXTURES_DIR`, default /var/cache/slipway-fixtures). */
export function fixturesDir(): string {
  try {
    const v = inject('fixturesDir');
    if (v) return v;
  } catch {
    // fall through
  }
  return process.env.SLIPWAY_FIXTURES_DIR || '/var/cache/slipway-fixtures';
}

/** Path of a fixture's OCI layout (a dir with `index.json`; tags as `org.opencontainers.image.ref.name`). */
export function fixtureLayout(name: FixtureName): string {
  return join(fixturesDir(), 'oci', name);
}

/** busybox as a `docker save` tarball (`busybox:latest`) or as an OCI archive (tag `latest`). */
export function fixtureArchive(kind: 'busybox-docker' | 'busybox-oci'): string {
  return join(fixturesDir(), 'archives', kind === 'busybox-docker' ? 'busybox.docker.tar' : 'busybox.oci.tar');
}

/** Whether the tests run as root. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Whether a command exists on PATH (or is an absolute path that exists). */
export function hasCommand(name: string): boolean {
  if (name.includes('/')) return existsSync(name);
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, name)));
}

/** Whether the current user can open /dev/net/tun (slirp4netns/pasta need it). */
export function tunUsable(): boolean {
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether the current user has subordinate uid and gid ranges (needed for a full rootless map). */
export function hasSubordinateIds(): boolean {
  if (isRoot()) return true;
  const user = process.env.USER ?? process.env.LOGNAME;
  const uid = String(process.getuid?.());
  const has = (file: string): boolean => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .some((l) => {
          const [who] = l.split(':');
          return who === uid || (user !== undefined && who === user);
        });
    } catch {
      return false;
    }
  };
  return has('/etc/subuid') && has('/etc/subgid');
}

/** Whether this kernel lets the current user create user namespaces. */
export function userNamespacesAllowed(): boolean {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  if (read('/proc/sys/user/max_user_namespaces') === '0') return false;
  if (isRoot()) return true;
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') return false;
  if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') return false;
  return true;
}

/** Path of the native helper, and whether it has been built. */
export function helperPath(): string {
  return fileURLToPath(new URL('../../../native/build/slipway-helper', import.meta.url));
}
export function helperBuilt(): boolean {
  return existsSync(helperPath());
}

function banner(kind: string, reason: string): void {
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPED ${kind}: ${reason}\n${line}\n`);
}

/**
 * `describe` when `condition` holds, otherwise `describe.skip` after printing a LOUD banner with the reason.
 * @example skipUnless(tunUsable(), '/dev/net/tun is not usable; run sudo bash scripts/setup-host.sh')('networking', () => { ... })
 */
export function skipUnless(condition: boolean, reason: string): typeof describe {
  if (condition) return describe;
  banner('suite', reason);
  return describe.skip as typeof describe;
}

/** True when the run uses the engine backend (`SLIPWAY_RUNTIME=engine`, the engine pass of `.ci/run`). */
export function engineRuntime(): boolean {
  return process.env.SLIPWAY_RUNTIME === 'engine';
}

/**
 * `it`, except on the engine backend, where the test checks what only the native runtime does (its addresses, its
 * store, its keeper): skipped there with the difference named (ARCHITECTURE.md lists them).
 */
export function nativeOnly(difference: string): typeof it {
  return testUnless(!engineRuntime(), `native runtime only: ${difference}`);
}

/**
 * Whether a local dockerd holds every capability the kernel has. A daemon in a sandbox that lacks one (this CI VM's
 * lacks CAP_SYS_RESOURCE) fails every container asking for all of them, `docker run --privileged` included.
 */
export function engineHoldsAllCapabilities(): boolean {
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    if (!/^Name:\s+dockerd$/m.test(status)) continue;
    return BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)/m.exec(status)![1]}`) === (1n << BigInt(last + 1)) - 1n;
  }
  return true;
}

/** `it` when `condition` holds, otherwise `it.skip` after printing a LOUD banner with the reason. */
export function testUnless(condition: boolean, reason: string): typeof it {
  if (condition) return it;
  banner('test', reason);
  return it.skip as typeof it;
}

/**
 * Polls `cond` every 20 ms until it holds; resolves with the time it took.
 * @throws Error when it still does not hold after `ms`.
 */
export async function until(cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

/**
 * Runs a TypeScript script in its own Node process (through vite-node) and resolves once it prints its
 * first JSON line on stdout, with the child (to signal it) and that line parsed. Arguments go through
 * `env`: vite-node treats extra argv entries as more files to run.
 */
export async function spawnTsChild<T>(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; info: T }> {
  const viteNode = join(createRequire(import.meta.url).resolve('vite-node/package.json'), '..', 'vite-node.mjs');
  const child = spawn(process.execPath, [viteNode, script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const info = await new Promise<T>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as T);
    });
    child.on('exit', (code) => reject(new Error(`child ${script} exited early (${code})`)));
  });
  return { child, info };
}

/**
 * Waits (up to 10 s) until no removed container's state dir is still being deleted in the keeper dir `keeperDir`: REMOVE
 * is answered once the container is dead, with its dir renamed to `.removing-<name>`, which a child of the keeper's
 * deletes afterwards. Call it before counting the keeper's dirs or children.
 */
export async function keeperRemovalsDone(keeperDir: string): Promise<void> {
  const busy = (): boolean => {
    try { return readdirSync(keeperDir).some((n) => n.startsWith('.removing-')); } catch { return false; }
  };
  await until(() => !busy(), 10_000).catch(() => undefined);
}

/** GET http://127.0.0.1:<port><path>; resolves with the body as text. */
export function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The slipway cgroup directories a process is in (every v1 hierarchy and the cgroup2 mount). */
export function slipwayCgroupsOf(pid: number): string[] {
  const out: string[] = [];
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (!path || !/\/slipway(\.slice)?\//.test(path)) continue;
    for (const mount of ctrls ? [ctrls.replace(/^name=/, '')] : ['unified', '']) {
      const dir = join('/sys/fs/cgroup', mount, path);
      if (existsSync(dir)) out.push(dir);
    }
  }
  return out;
}

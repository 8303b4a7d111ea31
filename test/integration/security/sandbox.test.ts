/**
 * Issue 9, holes 2, 3 and 8 played by the attacker, root and rootless: a busybox container (and a
 * process exec'd into it) runs under Docker's default seccomp profile, with no inheritable
 * capabilities, in its own session keyring. `sec-probe` (sec-probe.c, built static here) makes one
 * syscall per call and prints the kernel's answer.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Container, type StartedContainer } from '../../../src/index.js';
import { fixtureRef, hasCommand, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const canRun = helperBuilt() && userNamespacesAllowed() && hasCommand('cc') && process.arch === 'x64';
const PROBE = '/usr/local/bin/sec-probe';
/** Docker's 14 default capabilities, as /proc/<pid>/status prints them. */
const DEFAULT_CAPS = '00000000a80425fb';

let dir: string;
let probe: string;
let sessionKeyring = -1;

/** A busybox container with the probe, idling so execs can run in it. */
function box(): Container {
  return new Container(fixtureRef('busybox')).withCopy(probe, PROBE, { mode: 0o755 }).withCommand(['sleep', '3600']);
}

/** Runs the probe in the container: `ok <value>` or `err <ERRNO>`. */
async function ask(c: StartedContainer, ...args: string[]): Promise<string> {
  const r = await c.exec([PROBE, ...args]);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** Runs the probe on the host, as (and in the session keyring of) this test process. */
function host(...args: string[]): string {
  return execFileSync(probe, args, { encoding: 'utf8' }).trim();
}

function statusField(status: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
}

skipUnless(canRun, 'needs the native helper, user namespaces, a C compiler with static libc (build-essential) and x86_64')('sandbox: seccomp, capabilities, keyrings', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-sec-probe-'));
    chmodSync(dir, 0o755);
    probe = join(dir, 'sec-probe');
    execFileSync('cc', ['-static', '-O2', '-o', probe, new URL('./sec-probe.c', import.meta.url).pathname], { stdio: 'inherit' });
    // This process joins a session keyring of its own before the keeper starts (CI services and login
    // shells have one; a bare shell may not), so the keeper inherits it as in the hole: keys are shared
    // by session keyring, which neither fork nor a user namespace changes.
    const ffi = createRequire(import.meta.url)('ffi-rs') as typeof import('ffi-rs');
    ffi.open({ library: 'sandbox-libc', path: 'libc.so.6' });
    sessionKeyring = Number(ffi.load({
      library: 'sandbox-libc', funcName: 'syscall', retType: ffi.DataType.I64,
      paramsType: [ffi.DataType.I64, ffi.DataType.I64, ffi.DataType.String],
      paramsValue: [250 /* SYS_keyctl */, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, `slipway-test-${process.pid}`],
    }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('main process and exec: Seccomp 2, no inheritable or ambient capabilities, bounding set = the configured caps (CVE-2022-24769)', async () => {
    const run = await box().withCommand(['cat', '/proc/self/status']).run();
    expect(run.exitCode).toBe(0);
    await using c = await box().start();
    const asRoot = (await c.exec(['cat', '/proc/self/status'])).stdout;
    const asNobody = (await c.exec(['cat', '/proc/self/status'], { user: 'nobody' })).stdout;
    for (const status of [run.stdout, asRoot, asNobody]) {
      expect(statusField(status, 'Seccomp')).toBe('2');
      expect(statusField(status, 'NoNewPrivs')).toBe('0'); // Docker's default: off
      expect(statusField(status, 'CapInh')).toBe('0000000000000000');
      expect(statusField(status, 'CapAmb')).toBe('0000000000000000');
      expect(statusField(status, 'CapBnd')).toBe(DEFAULT_CAPS);
    }
    expect(statusField(run.stdout, 'CapEff')).toBe(DEFAULT_CAPS);
    expect(statusField(asNobody, 'CapEff')).toBe('0000000000000000');
  });

  it("no-new-privileges: off by default (a setuid-root binary of the image gains euid 0, as in Docker), on with withSecurityOpt('no-new-privileges'); Seccomp 2 either way", async () => {
    for (const [opts, nnp, euid] of [[[], '0', 'ok 0'], [['no-new-privileges'], '1', 'ok 65534'], [['no-new-privileges:true'], '1', 'ok 65534']] as const) {
      await using c = await box().withSecurityOpt(...opts).start();
      // Planted as root in the container, as an image's setuid binary would be; run as nobody.
      const plant = await c.exec(['sh', '-c', `cp ${PROBE} /usr/local/bin/suid-probe && chmod 4755 /usr/local/bin/suid-probe`]);
      expect(plant.exitCode, plant.stderr).toBe(0);
      expect((await c.exec(['/usr/local/bin/suid-probe', 'euid'], { user: 'nobody' })).stdout.trim(), opts.join()).toBe(euid);
      expect((await c.exec([PROBE, 'euid'], { user: 'nobody' })).stdout.trim()).toBe('ok 65534');
      const status = (await c.exec(['cat', '/proc/self/status'])).stdout;
      expect(statusField(status, 'NoNewPrivs'), opts.join()).toBe(nnp);
      expect(statusField(status, 'Seccomp'), opts.join()).toBe('2');
      const main = await box().withSecurityOpt(...opts).withCommand(['cat', '/proc/self/status']).run();
      expect(statusField(main.stdout, 'NoNewPrivs')).toBe(nnp);
      expect(statusField(main.stdout, 'Seccomp')).toBe('2');
    }
  });

  it("slipway's init (PID 1) holds no more than the container: with SYS_PTRACE added, a container process can neither ptrace it nor open its memory, fds or environment", async () => {
    await using c = await box().withAddedCapabilities('SYS_PTRACE').start();
    const own = (await c.exec(['cat', '/proc/self/status'])).stdout;
    const capSet = BigInt(`0x${statusField(own, 'CapEff')}`);
    expect(capSet & (1n << 19n)).not.toBe(0n); // CAP_SYS_PTRACE is the container's
    const init = (await c.exec(['cat', '/proc/1/status'])).stdout;
    expect(statusField(init, 'Name')).toBe('slipway-init');
    for (const f of ['CapEff', 'CapBnd']) expect(BigInt(`0x${statusField(init, f)}`) & ~capSet, f).toBe(0n);
    expect(statusField(init, 'CapInh')).toBe('0000000000000000');
    expect(statusField(init, 'CapAmb')).toBe('0000000000000000');
    expect(statusField(init, 'Seccomp')).toBe('2');
    // The attacker: root in the container with CAP_SYS_PTRACE.
    expect(await ask(c, 'ptrace', '1')).toMatch(/^err E(PERM|ACCES)$/);
    for (const path of ['/proc/1/mem', '/proc/1/environ', '/proc/1/fd/0', '/proc/1/fd/3', '/proc/1/ns/mnt', '/proc/1/root/']) {
      expect(await ask(c, 'open', path), path).toMatch(/^err E(PERM|ACCES)$/);
    }
    // Listing /proc/1/fd may work (as root the directory's owner is ours), following its links not.
    const ls = await c.exec(['ls', '-l', '/proc/1/fd/']);
    expect(ls.stdout).not.toMatch(/socket:|signalfd|null/);
    // The keeper still reaches the container through the namespaces it holds: exec and copies work.
    await c.copyTo(Buffer.from('still here\n'), '/tmp/after-start.txt');
    expect((await c.exec(['cat', '/tmp/after-start.txt'])).stdout).toBe('still here\n');
  });

  it("CVE-2019-5736 class: no copy of slipway's helper in the container (init, a running exec's reaper) lets a container process reach the helper binary, even with SYS_PTRACE", async () => {
    await using c = await box().withAddedCapabilities('SYS_PTRACE').start();
    // An exec that keeps running: its reaper (a fork of the keeper, the helper's image) is in the container's pid namespace.
    const stop = new AbortController();
    const running = c.exec(['sleep', '30'], { signal: stop.signal }).catch(() => undefined);
    // Each exec has a reaper of its own: the ones seen by two listings in a row are init and the running exec's.
    const list = async () => (await c.exec(['sh', '-c', 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm)"; done'])).stdout
      .split('\n').filter((l) => / slipway-/.test(l));
    let helpers: string[] = [];
    for (let i = 0; i < 100 && !helpers.some((h) => h.endsWith(' slipway-exec')); i++) {
      const first = await list();
      helpers = (await list()).filter((h) => first.includes(h));
      if (!helpers.some((h) => h.endsWith(' slipway-exec'))) await new Promise((r) => setTimeout(r, 50));
    }
    expect(helpers.map((h) => h.split(' ')[1]).sort()).toContain('slipway-exec');
    expect(helpers.map((h) => h.split(' ')[1])).toContain('slipway-init');
    for (const pid of helpers.map((h) => h.split(' ')[0]!)) {
      // The exploit: an O_PATH of /proc/<pid>/exe, reopened for writing once the helper is no longer running.
      for (const how of ['open-path', 'open', 'open-write']) {
        expect(await ask(c, how, `/proc/${pid}/exe`), `${how} /proc/${pid}/exe`).toMatch(/^err E(PERM|ACCES)$/);
      }
      for (const path of [`/proc/${pid}/mem`, `/proc/${pid}/fd/0`, `/proc/${pid}/cwd/`, `/proc/${pid}/root/`]) {
        expect(await ask(c, 'open', path), path).toMatch(/^err E(PERM|ACCES)$/);
      }
      // map_files/ opens, but lists none of the helper's mappings.
      expect((await c.exec(['ls', `/proc/${pid}/map_files/`])).stdout.trim(), `/proc/${pid}/map_files/`).toBe('');
      expect(await ask(c, 'ptrace', pid), `ptrace ${pid}`).toMatch(/^err E(PERM|ACCES)$/);
    }
    stop.abort();
    await running;
  });

  it('init still forwards a stop signal to a process of another uid when the container has no CAP_KILL', async () => {
    await using c = await box().withUser('nobody').withDroppedCapabilities('ALL')
      .withCommand(['sh', '-c', "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done"]).start();
    expect(statusField((await c.exec(['cat', '/proc/1/status'])).stdout, 'CapEff')).toBe('0000000000000000');
    const exit = await c.stop({ timeout: 20_000 });
    expect(exit.exitCode).toBe(7);
  });

  it('denies what Docker denies with EPERM: user namespaces, keyctl/add_key, non-default personality, AF_VSOCK/AF_ALG sockets', async () => {
    await using c = await box().start();
    const unshare = await c.exec(['unshare', '-U', 'true']);
    expect(unshare.exitCode).not.toBe(0);
    expect(unshare.stderr).toMatch(/Operation not permitted/);
    expect(await ask(c, 'unshare-user')).toBe('err EPERM');
    expect(await ask(c, 'session')).toBe('err EPERM');
    expect(await ask(c, 'key-add', 'planted', 'x')).toBe('err EPERM');
    expect(await ask(c, 'personality', '0x0040000')).toBe('err EPERM'); // ADDR_NO_RANDOMIZE
    expect(await ask(c, 'personality', '0xffffffff')).toMatch(/^ok /); // the query Docker allows
    expect(await ask(c, 'socket', '40')).toBe('err EPERM'); // AF_VSOCK
    expect(await ask(c, 'socket', '38')).toBe('err EPERM'); // AF_ALG
    expect(await ask(c, 'socket', '2')).toMatch(/^ok /); // AF_INET
  });

  it('resolves capability-gated rules: CAP_SYS_ADMIN allows unshare(CLONE_NEWUSER), as in Docker', async () => {
    await using c = await box().withAddedCapabilities('SYS_ADMIN').start();
    expect(await ask(c, 'unshare-user')).toBe('ok 0');
  });

  it("seccomp=unconfined: no filter for the main process or execs; the kernel's own answers come back", async () => {
    await using c = await box().withSecurityOpt('seccomp=unconfined').start();
    expect(statusField((await c.exec(['cat', '/proc/self/status'])).stdout, 'Seccomp')).toBe('0');
    expect(statusField((await c.exec(['cat', '/proc/self/status'])).stdout, 'CapInh')).toBe('0000000000000000');
    expect(await ask(c, 'unshare-user')).toBe('ok 0');
    expect(await ask(c, 'personality', '0x0040000')).not.toBe('err EPERM');
  });

  it("keyrings: the container neither reads the test process's session keyring nor adds to it (unconfined, so keyctl is not blocked)", async () => {
    expect(sessionKeyring).toBeGreaterThan(0);
    const desc = `slipway-secret-${process.pid}`;
    const added = host('key-add', desc, 'the-host-secret');
    expect(added).toMatch(/^ok \d+$/);
    const serial = added.slice(3);
    try {
      expect(host('key-search', desc)).toBe(added); // visible to the test process (and, before the fix, to containers)
      await using c = await box().withSecurityOpt('seccomp=unconfined').start();
      expect(await ask(c, 'key-search', desc)).toBe('err ENOKEY');
      expect(await ask(c, 'key-read', serial)).toBe('err EACCES');
      const planted = await ask(c, 'key-add', `slipway-planted-${process.pid}`, 'from-the-container');
      expect(planted).toMatch(/^ok \d+$/);
      expect(host('key-search', `slipway-planted-${process.pid}`)).toBe('err ENOKEY');
      // An exec gets its own keyring too: not the host's, not the main process's.
      expect(await ask(c, 'key-search', desc)).toBe('err ENOKEY');
      expect(await ask(c, 'session')).not.toBe(host('session'));
    } finally {
      host('key-revoke', serial);
    }
  });
});

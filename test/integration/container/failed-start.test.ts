// Failure injection: each step of a container's boot fails in turn; the error must carry the right code, and nothing
// the boot made may be left: no process under the keeper, no network helper, no published port, no state dir, no
// cgroup, and a Node process whose start() failed exits on its own.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Container, Network, SlipwayError, Wait } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { engineRuntime, fixtureRef, hasCommand, helperBuilt, isRoot, isPoolProcess, keeperRemovalsDone, nativeOnly, skipUnless, spawnTsChild, testUnless, tunUsable, until, userNamespacesAllowed } from '../harness/index.js';

/** Direct children of `pid` (every thread's), as `pid comm`. */
function children(pid: number): string[] {
  const out: string[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let list = '';
    try { list = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8'); } catch { continue; }
    for (const c of list.trim().split(/\s+/).filter(Boolean)) {
      let comm = '?';
      try { comm = readFileSync(`/proc/${c}/comm`, 'utf8').trim(); } catch { continue; }
      // The keeper's prepared namespace for the next container (native/netpool.h) is nothing of the failed one's.
      if (isPoolProcess(Number(c))) continue;
      out.push(`${c} ${comm}`);
    }
  }
  return out.sort();
}

/** Mounts in the keeper's mount namespace below its state dir (a container's root lives in its own namespace). */
function mountsBelow(k: Keeper): string[] {
  return readFileSync(`/proc/${k.pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.includes(k.stateDir));
}

/** Cgroup dirs of container `id` under any controller (v1 as root: `<ctrl>/slipway/<id>`; v2: `slipway/<id>` or `slipway.slice/<id>`). */
function cgroupsOf(id: string): string[] {
  const out: string[] = [];
  const look = (dir: string) => { if (existsSync(join(dir, id))) out.push(join(dir, id)); };
  for (const ctrl of readdirSync('/sys/fs/cgroup')) {
    look(join('/sys/fs/cgroup', ctrl, 'slipway'));
    look(join('/sys/fs/cgroup', ctrl, 'slipway.slice'));
  }
  look('/sys/fs/cgroup/slipway');
  return out;
}

/** Whether fuse-overlayfs can run for this user (rootless needs a world read/writable /dev/fuse). */
function fuseUsable(): boolean {
  if (!hasCommand('fuse-overlayfs')) return false;
  try {
    return isRoot() || (statSync('/dev/fuse').mode & 0o006) === 0o006;
  } catch {
    return false;
  }
}

/** Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp: a connect could race a prompt reset). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => {
    const cols = l.trim().split(/\s+/);
    return cols[1] === `0100007F:${hex}` && cols[3] === '0A';
  });
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

async function freePort(): Promise<number> {
  const s = await listen();
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

const ref = () => fixtureRef('busybox');
const limited = (c: Container) => (isRoot() ? c.withMemory('64m').withPids(64) : c);
let keeper: Keeper;

/**
 * Starts `builder`, expects the start to fail with `code` after CREATE, then checks that nothing is left.
 * @param ports - host ports the failing boot had published before it failed.
 */
async function expectCleanFailure(builder: Container, code: string, ports: number[] = [], signal?: AbortSignal): Promise<SlipwayError> {
  if (engineRuntime()) return expectCleanEngineFailure(builder, code, ports);
  const spy = vi.spyOn(keeper, 'createContainer');
  // Processes that were there before may end meanwhile (a keeper worker of an earlier step): only new ones count.
  const snapshot = () => ({ keeperChildren: children(keeper.pid), nodeChildren: children(process.pid), dirs: readdirSync(keeper.stateDir).sort(), mounts: mountsBelow(keeper) });
  await keeperRemovalsDone(keeper.stateDir); // an earlier test's removed container may still be deleting its dir
  const before = snapshot();
  const left = () => {
    const now = snapshot();
    return { ...now, keeperChildren: now.keeperChildren.filter((c) => !before.keeperChildren.includes(c)), nodeChildren: now.nodeChildren.filter((c) => !before.nodeChildren.includes(c)) };
  };
  const nothing = { ...before, keeperChildren: [], nodeChildren: [] };
  const err = await builder.start({ signal }).then(() => undefined, (e: unknown) => e);
  const created = spy.mock.calls.map(([spec]) => spec.id);
  spy.mockRestore();
  expect(SlipwayError.is(err), String(err)).toBe(true);
  expect((err as SlipwayError).code, (err as Error).message).toBe(code);
  expect(created, 'the failure came after CREATE').toHaveLength(1);

  // The keeper's short-lived workers (PUT, rmtree) may still be exiting, and a removed state dir being deleted.
  await keeperRemovalsDone(keeper.stateDir);
  await until(() => JSON.stringify(left()) === JSON.stringify(nothing), 3000).catch(() => undefined);
  expect(left()).toEqual(nothing);
  expect(cgroupsOf(created[0]!)).toEqual([]);
  for (const p of ports) expect(listening(p), `host port ${p} still listens`).toBe(false);
  return err as SlipwayError;
}

/** This process's containers in the engine (all states), by the pid label every session resource carries. */
function engineContainers(): string[] {
  return execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=org.slipway.pid=${process.pid}`], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

/**
 * The engine's counterpart: the failure carries `code`, and no container of this process, Node child or published
 * port is left. Some failures come before the engine's create here (what the keeper refuses at a boot step is
 * checked before the engine is asked), so a create is not required.
 */
async function expectCleanEngineFailure(builder: Container, code: string, ports: number[]): Promise<SlipwayError> {
  const before = { containers: engineContainers(), nodeChildren: children(process.pid) };
  const err = await builder.start().then(() => undefined, (e: unknown) => e);
  expect(SlipwayError.is(err), String(err)).toBe(true);
  expect((err as SlipwayError).code, (err as Error).message).toBe(code);
  await until(() => JSON.stringify(engineContainers()) === JSON.stringify(before.containers), 3000).catch(() => undefined);
  expect(engineContainers()).toEqual(before.containers);
  expect(children(process.pid).filter((c) => !before.nodeChildren.includes(c) && !/docker/.test(c))).toEqual([]);
  for (const p of ports) expect(listening(p), `host port ${p} still listens`).toBe(false);
  return err as SlipwayError;
}

const ENGINE_EXITS_127 = 'on an engine a missing command starts and exits 127, its init\'s message in the log lines';
const KEEPER_INJECTION = 'the failure is injected into the keeper\'s CREATE (lifecycle.test.ts aborts a start on both runtimes)';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('a start() that fails leaves nothing behind', () => {
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    if (!engineRuntime()) keeper = await Keeper.get();
    await new Container(ref()).withCommand(['true']).withNetworkMode('none').run(); // image pulled and unpacked
    busy = await listen();
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => { await new Promise((r) => busy?.close(r)); });

  it('port in use: the ports published before it are closed again', async () => {
    const first = await freePort();
    const err = await expectCleanFailure(
      limited(new Container(ref()).withCommand(['sleep', '1000']).expose(80, first).expose(81, busyPort)), 'ERR_PORT_IN_USE', [first]);
    expect(err.hint).toMatch(/expose\(81\)/);
    expect(listening(busyPort)).toBe(true); // the other listener is untouched
  });

  it('missing copy source', async () => {
    await expectCleanFailure(limited(new Container(ref()).withCommand(['sleep', '1000']).withCopy('/nonexistent/slipway-source', '/x')), 'ERR_INVALID_ARGUMENT');
  });

  it('a file copy the keeper refuses (a path below a regular file)', async () => {
    const err = await expectCleanFailure(limited(new Container(ref()).withCommand(['sleep', '1000']).withFile('/etc/passwd/below', 'x')), 'ERR_CONTAINER_START');
    expect(err.message).toContain('/etc/passwd/below');
  });

  it('an invalid hostIp that reaches the runtime (builder validation bypassed)', async () => {
    const base = new Container(ref()).withCommand(['sleep', '1000']);
    const first = await freePort();
    const options = { ...base.options, ports: [{ container: 80, protocol: 'tcp' as const, host: first, hostIp: '127.0.0.1' }, { container: 81, protocol: 'tcp' as const, host: 0, hostIp: '300.1.2.3' }] };
    await expectCleanFailure(limited(new Container(ref(), options)), 'ERR_INVALID_ARGUMENT', [first]);
  });

  it('an invalid extra-host address that reaches the runtime (the /etc files step)', async () => {
    const base = new Container(ref()).withCommand(['sleep', '1000']);
    await expectCleanFailure(limited(new Container(ref(), { ...base.options, extraHosts: { 'api.test': 'not-an-address' } })), 'ERR_INVALID_ARGUMENT');
  });

  nativeOnly(ENGINE_EXITS_127)('the process cannot be executed (START fails after the ports are published)', async () => {
    const first = await freePort();
    await expectCleanFailure(limited(new Container(ref()).withCommand(['/no/such/binary']).expose(80, first)), 'ERR_CONTAINER_START', [first]);
  });

  nativeOnly(ENGINE_EXITS_127)('a missing command is ERR_CONTAINER_START naming the path, or the PATH searched for a bare name', async () => {
    const abs = await new Container(ref()).withCommand(['/no/such/binary']).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(abs, 'ERR_CONTAINER_START'), String(abs)).toBe(true);
    expect((abs as SlipwayError).shortMessage).toMatch(/^cannot start slipway-[0-9a-f]{12}: the command "\/no\/such\/binary" does not exist in the image/);
    expect((abs as SlipwayError).hint).toContain('withCommand()/withEntrypoint()');
    const bare = await new Container(ref()).withEntrypoint(['no-such-tool']).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(bare, 'ERR_CONTAINER_START'), String(bare)).toBe(true);
    expect((bare as SlipwayError).shortMessage).toMatch(/the command "no-such-tool" was not found in PATH=\/usr\/local\/sbin:/);
    const notExec = await new Container(ref()).withCommand(['/etc/passwd']).start().then(() => undefined, (e: unknown) => e);
    expect((notExec as SlipwayError).shortMessage).toContain('the command "/etc/passwd" is not executable');
  });

  it('a container that exits before it is ready is ERR_CONTAINER_EXITED with its exit code or signal', async () => {
    const coded = await new Container(ref()).withCommand(['sh', '-c', 'echo bye; exit 3']).expose(80).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(coded, 'ERR_CONTAINER_EXITED'), String(coded)).toBe(true);
    expect((coded as SlipwayError).shortMessage).toBe('the container exited before it was ready (exit code 3)');
    expect((coded as Error).message).toContain('| bye');
    const killed = await new Container(ref()).withCommand(['sh', '-c', 'kill -KILL $$']).waitFor(Wait.forLogMessage('never')).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(killed, 'ERR_CONTAINER_EXITED'), String(killed)).toBe(true);
    expect((killed as SlipwayError).shortMessage).toContain('(killed by SIGKILL)');
  });

  it('host access that cannot be given (network mode none)', async () => {
    await expectCleanFailure(limited(new Container(ref()).withCommand(['sleep', '1000']).withNetworkMode('none').withHostAccess(5432)), 'ERR_INVALID_ARGUMENT');
  });

  testUnless(engineRuntime() || (tunUsable() && (hasCommand('slirp4netns') || hasCommand('pasta'))), 'no slirp4netns/pasta or /dev/net/tun')(
    'joining a removed network fails after the outbound helper started: the helper is stopped', async () => {
      const net = await Network.create();
      const builder = limited(new Container(ref()).withCommand(['sleep', '1000']).withNetwork(net));
      await net.remove();
      await expectCleanFailure(builder, 'ERR_NETWORK');
    });

  (engineRuntime() ? nativeOnly('an engine container has no slirp4netns helper of ours') : testUnless(tunUsable() && hasCommand('slirp4netns'), 'no slirp4netns or /dev/net/tun'))(
    'a CREATE that fails in the mount setup: the slirp4netns asked for beside it (before CREATE\'s answer) is gone too', async () => {
      const spy = vi.spyOn(keeper, 'startOutbound');
      try {
        // A bind target below a regular file of the image: init fails in its mount setup, after it made the tap.
        const err = await expectCleanFailure(limited(new Container(ref()).withCommand(['sleep', '1000']).withBind(tmpdir(), '/etc/passwd/below')), 'ERR_RUNTIME');
        expect(err.message).toContain('/etc/passwd/below');
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
    });

  (engineRuntime() ? nativeOnly('an engine container has no slirp4netns/pasta helper of ours') : testUnless(tunUsable() && (hasCommand('slirp4netns') || hasCommand('pasta')), 'no slirp4netns/pasta or /dev/net/tun'))(
    'restart() ×3 keeps one outbound helper', async () => {
      await using c = await new Container(ref()).withCommand(['sleep', '1000']).start();
      // slirp4netns is the keeper's child, pasta (and setpriv) this process's.
      const helpers = () => [...children(process.pid), ...children(keeper.pid)].filter((l) => /slirp4netns|pasta|setpriv/.test(l));
      expect(helpers()).toHaveLength(1);
      for (let i = 0; i < 3; i++) await c.restart({ timeout: 0 });
      await until(() => helpers().length === 1, 3000).catch(() => undefined);
      expect(helpers()).toHaveLength(1);
      expect((await c.exec(['true'])).exitCode).toBe(0);
    });

  it('a wait timeout carries a plain Error as its cause (not the deadline\'s DOMException)', async () => {
    const err = await new Container(ref()).withCommand(['sleep', '1000']).withNetworkMode('none')
      .waitFor(Wait.forLogMessage('never printed').withStartupTimeout(300)).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_WAIT_TIMEOUT'), String(err)).toBe(true);
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(Error);
    expect(cause).not.toBeInstanceOf(DOMException);
    expect((cause as Error).message).toMatch(/300 ms/);
  });

  it('a wait command that cannot run ends the wait with its own error, not a timeout', async () => {
    const err = await new Container(ref()).withCommand(['sleep', '1000']).withNetworkMode('none')
      .waitFor(Wait.forSuccessfulCommand(['/no/such/probe']).withStartupTimeout(5000)).start().then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_RUNTIME'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/\/no\/such\/probe.*ENOENT/);
  });

  nativeOnly(KEEPER_INJECTION)('an abort during the boot (right after CREATE) unwinds it and is ERR_ABORTED with a plain cause', async () => {
    const ac = new AbortController();
    const create = keeper.createContainer.bind(keeper);
    // Aborts once CREATE answered: the next step sees the signal.
    keeper.createContainer = async (spec) => { const r = await create(spec); ac.abort(); return r; };
    try {
      const first = await freePort();
      const err = await expectCleanFailure(limited(new Container(ref()).withCommand(['sleep', '1000']).expose(80, first)), 'ERR_ABORTED', [first], ac.signal);
      expect(err.cause).toBeInstanceOf(Error);
      expect(err.cause).not.toBeInstanceOf(DOMException);
    } finally {
      delete (keeper as { createContainer?: unknown }).createContainer;
    }
  });

  nativeOnly(KEEPER_INJECTION)('remove() while restart() boots again: the boot stops at its next step and nothing is left', async () => {
    const port = await freePort();
    const c = await limited(new Container(ref()).withCommand(['sleep', '1000']).expose(80, port)).waitFor(Wait.none()).start();
    // (its init and its slirp4netns, which the keeper runs)
    await keeperRemovalsDone(keeper.stateDir);
    // The keeper's short-lived children (a namespace closer, the pool's maker of a spare namespace: native/netpool.h,
    // forked right after the START answer) end by themselves: the comparison is of what stays.
    await until(() => !children(keeper.pid).some((l) => !l.startsWith(`${c.pid} `) && l.endsWith(' slipway-helper')), 3000).catch(() => undefined);
    const before = { keeperChildren: children(keeper.pid).filter((l) => !l.startsWith(`${c.pid} `) && !l.endsWith(' slirp4netns')), dirs: readdirSync(keeper.stateDir).filter((d) => !c.id.startsWith(d)).sort() };
    let removing: Promise<void> | undefined;
    const create = keeper.createContainer.bind(keeper);
    // The restart's CREATE is answered; the remove() comes in right then.
    keeper.createContainer = async (spec) => { const r = await create(spec); removing = c.remove(); return r; };
    try {
      const err = await c.restart({ timeout: 0 }).then(() => undefined, (e: unknown) => e);
      expect(SlipwayError.is(err, 'ERR_CONTAINER_NOT_RUNNING'), String(err)).toBe(true);
      await removing;
    } finally {
      delete (keeper as { createContainer?: unknown }).createContainer;
    }
    const left = () => ({ keeperChildren: children(keeper.pid), dirs: readdirSync(keeper.stateDir).sort() });
    await keeperRemovalsDone(keeper.stateDir);
    await until(() => JSON.stringify(left()) === JSON.stringify(before), 3000).catch(() => undefined);
    expect(left()).toEqual(before);
    expect(listening(port)).toBe(false);
    expect(cgroupsOf(c.id)).toEqual([]);
  });

  for (const rootfs of ['auto', 'fuse-overlayfs'] as const) {
    (rootfs === 'fuse-overlayfs' && engineRuntime() ? nativeOnly('the engine keeps its own root file systems') : testUnless(rootfs !== 'fuse-overlayfs' || fuseUsable(), 'fuse-overlayfs is not installed, or /dev/fuse is missing or not usable by this user (chmod 666 /dev/fuse)'))(
      `a Node process whose start() failed exits on its own, nothing left under its keeper (SLIPWAY_ROOTFS=${rootfs})`, async () => {
        const { child, info } = await spawnTsChild<{ codes: string[]; keeperPid: number; before: unknown; after: unknown }>(
          join(import.meta.dirname, 'failed-start-child.mts'), { FAILED_START_REF: ref(), FAILED_START_LIMIT: isRoot() ? '1' : '0', SLIPWAY_ROOTFS: rootfs });
        // On an engine the missing command starts and exits 127 before the port wait is over.
        expect(info.codes).toEqual(['ERR_PORT_IN_USE', engineRuntime() ? 'ERR_CONTAINER_EXITED' : 'ERR_CONTAINER_START', 'ERR_INVALID_ARGUMENT']);
        expect(info.after).toEqual(info.before);
        const exited = new Promise<number | null>((resolve) => {
          if (child.exitCode !== null) resolve(child.exitCode);
          child.once('exit', (code) => resolve(code));
        });
        // A generous bound that only catches a hang (a referenced waiter keeps Node alive forever).
        const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000).unref())]);
        if (typeof code === 'string') child.kill('SIGKILL');
        expect(code).toBe(0);
        if (engineRuntime()) {
          // The child's watchdog removes whatever its session still had; nothing of it may be left.
          const ofChild = () => execFileSync('docker', ['ps', '-aq', '--filter', `label=org.slipway.pid=${child.pid}`], { encoding: 'utf8' }).trim();
          await until(() => ofChild() === '', 10_000).catch(() => undefined);
          expect(ofChild()).toBe('');
          return;
        }
        const keeperAlive = () => existsSync(`/proc/${info.keeperPid}`) && !readFileSync(`/proc/${info.keeperPid}/stat`, 'utf8').includes(') Z');
        await until(() => !keeperAlive(), 3000).catch(() => undefined);
        expect(keeperAlive()).toBe(false);
      });
  }
});

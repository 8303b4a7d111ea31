/**
 * slipway/testcontainers where testcontainers-node's own suite (scripts/measure-testcontainers-suite.mjs) found it
 * behaving unlike testcontainers: each case here failed before its fix.
 */
import tar from 'tar-stream';
import { expect, it } from 'vitest';
import { AbstractStartedContainer, GenericContainer, type InspectResult, type StartedTestContainer } from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const BUSYBOX = () => fixtureRef('busybox');
const SLEEP = ['sleep', '1000'];

/** A tar-stream pack: a streamx Readable, not Node's (as archiver's is readable-stream's). */
function pack(name: string, uid: number, gid: number) {
  const p = tar.pack();
  p.entry({ name, uid, gid }, 'hello world');
  p.finalize();
  return p as unknown as import('node:stream').Readable;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('testcontainers compat (upstream suite findings)', { timeout: 120_000 }, () => {
  it('archives keep their headers\' uid/gid before and after start, with copyUIDGID too when the process runs as root', async () => {
    await using c = await new GenericContainer(BUSYBOX()).withCommand(SLEEP)
      .withCopyArchivesToContainer([{ tar: pack('tmp/before.txt', 4242, 4343), target: '/' }])
      .withCopyToContainerOptions({ copyUIDGID: true })
      .start();
    await c.copyArchiveToContainer(pack('tmp/after.txt', 4242, 4343), '/');
    await c.copyArchiveToContainer(pack('tmp/after-uidgid.txt', 4444, 4545), '/', { copyUIDGID: true });
    expect((await c.exec(['stat', '-c', '%u:%g', '/tmp/before.txt', '/tmp/after.txt', '/tmp/after-uidgid.txt'])).output)
      .toBe('4242:4343\n4242:4343\n4444:4545\n');
    await expect(c.copyArchiveToContainer(pack('tmp/x', 1, 1), '/', { noOverwriteDirNonDir: true })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
  });

  it('copyArchiveToContainer with copyUIDGID gives the entries to a non-root process user', async () => {
    await using c = await new GenericContainer(BUSYBOX()).withCommand(SLEEP).withUser('100:101').start();
    await c.copyArchiveToContainer(pack('tmp/owned.txt', 4242, 4343), '/', { copyUIDGID: true });
    expect((await c.exec(['stat', '-c', '%u:%g', '/tmp/owned.txt'])).output).toBe('100:101\n');
  });

  it('calls the lifecycle hooks of a GenericContainer subclass in testcontainers\' order, with an InspectResult', async () => {
    const calls: string[] = [];
    let starting: InspectResult | undefined;
    class Hooked extends GenericContainer {
      protected override async beforeContainerCreated() { calls.push('beforeContainerCreated'); }
      protected override async containerCreated(id: string) { calls.push(`containerCreated ${id.length}`); }
      protected override async containerStarting(inspect: InspectResult, reused: boolean) { starting = inspect; calls.push(`containerStarting ${reused}`); }
      protected override async containerStarted(c: StartedTestContainer, inspect: InspectResult, reused: boolean) {
        calls.push(`containerStarted ${reused} ${inspect.name === c.getName()}`);
      }
    }
    class Started extends AbstractStartedContainer {
      protected override async containerStopping() { calls.push('containerStopping'); }
      protected override async containerStopped() { calls.push('containerStopped'); }
    }
    const c = new Started(await new Hooked(BUSYBOX()).withCommand(['httpd', '-f', '-p', '8080', '-h', '/'])
      .withExposedPorts(8080).withLabels({ team: 'a' }).start());
    expect(starting).toMatchObject({
      name: c.getName(), hostname: c.getHostname(), labels: { team: 'a' }, healthCheckStatus: 'none',
      ports: { 8080: [{ hostIp: c.getHost(), hostPort: c.getMappedPort(8080) }] }, state: { status: 'running', running: true },
    });
    await c.stop();
    expect(calls).toEqual(['beforeContainerCreated', 'containerCreated 64', 'containerStarting false', 'containerStarted false true', 'containerStopping', 'containerStopped']);
  });

  it('a containerStarted hook that throws fails the start and removes the container', async () => {
    let seen: StartedTestContainer | undefined;
    class Failing extends GenericContainer {
      protected override async containerStarted(c: StartedTestContainer) { seen = c; throw new Error('hook failed'); }
    }
    await expect(new Failing(BUSYBOX()).withCommand(SLEEP).start()).rejects.toThrow('hook failed');
    await expect(seen!.exec(['true'])).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_RUNNING' });
  });

  it('withReuse: the same configuration gets this process\'s container back, restarted after a stop without removal', async () => {
    const reusable = () => new GenericContainer(BUSYBOX()).withCommand(['httpd', '-f', '-p', '8080', '-h', '/']).withExposedPorts(8080)
      .withLabels({ reuse: 'compat-test' }).withReuse();
    const [a, b] = await Promise.all([reusable().start(), reusable().start()]);
    expect(b.getId()).toBe(a.getId());
    await a.stop({ remove: false });
    const c = await reusable().start();
    expect(c.getId()).toBe(a.getId());
    expect((await c.exec(['true'])).exitCode).toBe(0);
    await c.stop();
    const d = await reusable().start();
    expect(d.getId()).not.toBe(a.getId());
    await d.stop();
  });

  it('withReuse is off with TESTCONTAINERS_REUSE_ENABLE=false, and a container started without it is never reused', async () => {
    const build = (reuse: boolean) => {
      const g = new GenericContainer(BUSYBOX()).withCommand(SLEEP).withLabels({ reuse: 'off-test' });
      return reuse ? g.withReuse() : g;
    };
    await using plain = await build(false).start();
    await using reused = await build(true).start();
    expect(reused.getId()).not.toBe(plain.getId());
    process.env.TESTCONTAINERS_REUSE_ENABLE = 'false';
    try {
      await using off = await build(true).start();
      expect(off.getId()).not.toBe(reused.getId());
    } finally {
      delete process.env.TESTCONTAINERS_REUSE_ENABLE;
    }
  });

  it('getLabels() shows the image\'s labels under the container\'s, as Docker does', async () => {
    await using c = await new GenericContainer(fixtureRef('busybox', 'config')).withCommand(SLEEP)
      .withLabels({ team: 'a' }).start();
    expect(c.getLabels()).toEqual({ 'org.slipway.fixture': 'busybox-config', team: 'a' });
    await using d = await new GenericContainer(fixtureRef('busybox', 'config')).withCommand(SLEEP)
      .withLabels({ 'org.slipway.fixture': 'mine' }).start();
    expect(d.getLabels()).toEqual({ 'org.slipway.fixture': 'mine' });
  });
});

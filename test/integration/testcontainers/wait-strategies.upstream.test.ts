/**
 * testcontainers-node v12.1.0 wait-strategy tests (http, host-port, log, shell, one-shot, startup-check, composite,
 * health-check), ported in our words to `slipway/testcontainers` with its own image (cristianrgreco/testcontainer:1.1.14)
 * from the test registry. Failures must carry testcontainers' own words.
 * - "the container is gone after a failed wait" (upstream lists Docker's running containers): the name it had is free
 *   again, so a second container starts under it.
 * - abortOnContainerExit (upstream stops the starting container through Docker): the container's process exits by
 *   itself while the HTTP wait runs, and the error carries its last 50 log lines.
 * Left out: the health-check tests built from a Dockerfile belong to the image-build issue's suite.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { GenericContainer, RandomUuid, StartupCheckStrategy, Wait, type StartupStatus } from '../../../src/testcontainers.js';
import { skipUnless, until } from '../harness/index.js';
import { canRun, cannotRunReason, expectHealthy, expectHealthyTls, IMAGE, useHubPrefix } from './upstream.js';

async function startError(c: GenericContainer): Promise<Error & { code?: string }> {
  return c.start().then(async (s) => { await s.stop(); throw new Error('expected the start to fail'); }, (e: Error) => e);
}

/** The name a failed start used can be taken again: the container was removed. */
async function expectNameFree(name: string): Promise<void> {
  await using again = await new GenericContainer(IMAGE).withName(name).withCommand(['sleep', '1000']).start();
  expect(again.getName()).toBe(`/${name}`);
}

const uniqueName = () => `container-${new RandomUuid().nextUuid()}`;

skipUnless(canRun, cannotRunReason)('wait strategies (testcontainers-node suite, ported)', { timeout: 180_000 }, () => {
  useHubPrefix();

  it('forHttp: 200, a status code, a status predicate, a body predicate', async () => {
    await using a = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forHttp('/hello-world', 8080)).start();
    await expectHealthy(a);
    await using b = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forHttp('/unknown-path', 8080).forStatusCode(404)).start();
    await expectHealthy(b);
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/hello-world', 8080).forStatusCodeMatching((s) => s === 404 || s === 200)).start();
    await expectHealthy(c);
    await using d = await new GenericContainer(IMAGE).withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/hello-world', 8080).forResponsePredicate((body) => body === 'hello-world')).start();
    await expectHealthy(d);
  });

  it('forHttp times out as "URL <path> not accessible after <ms>ms" for a wrong status, status predicate or body predicate', async () => {
    for (const [strategy, path] of [
      [Wait.forHttp('/unknown-path', 8080).forStatusCode(200), '/unknown-path'],
      [Wait.forHttp('/hello-world', 8080).forStatusCodeMatching(() => false), '/hello-world'],
      [Wait.forHttp('/hello-world', 8080).forResponsePredicate(() => false), '/hello-world'],
    ] as const) {
      const err = await startError(new GenericContainer(IMAGE).withExposedPorts(8080).withStartupTimeout(3000).withWaitStrategy(strategy));
      expect(err.message).toContain(`URL ${path} not accessible after 3000ms`);
    }
  });

  it('forHttp with abortOnContainerExit fails when the process exits, with its last 50 log lines', async () => {
    const lines = [...Array(55).keys()];
    const err = await startError(new GenericContainer(IMAGE).withExposedPorts(8080).withStartupTimeout(20_000)
      .withEntrypoint(['/bin/sh', '-c', `${lines.map((i) => `echo ${i}`).join(' && ')} && sleep 0.5`])
      .withWaitStrategy(Wait.forHttp('/hello-world', 8080, { abortOnContainerExit: true })));
    expect(err.message).toContain(`Container exited during HTTP healthCheck, last 50 logs: ${lines.slice(-50).join('\n')}`);
  });

  it('forHttp: method, headers, basic credentials and read timeout', async () => {
    await using a = await new GenericContainer(IMAGE).withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/hello-world-post', 8080).withMethod('POST')).start();
    await expectHealthy(a);
    await using b = await new GenericContainer(IMAGE).withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/header-or-400/custom', 8080).withHeaders({ custom: 'value' })).start();
    await expectHealthy(b);
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/auth', 8080).withBasicCredentials('user', 'pass')).start();
    await expectHealthy(c);
    await using d = await new GenericContainer(IMAGE).withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/hello-world-delay', 8080).withReadTimeout(5000)).start();
    await expectHealthy(d);
  });

  it('forHttp over TLS: a self-signed certificate fails unless allowInsecure()', async () => {
    await expect(new GenericContainer(IMAGE).withExposedPorts(8443).withWaitStrategy(Wait.forHttp('/hello-world', 8443).usingTls())
      .withStartupTimeout(5000).start()).rejects.toThrow('URL /hello-world not accessible after 5000ms');
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8443)
      .withWaitStrategy(Wait.forHttp('/hello-world', 8443).usingTls().allowInsecure()).start();
    await expectHealthyTls(c);
  });

  it('listening ports: the default wait returns once the exposed port answers', async () => {
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8080).start();
    await expectHealthy(c);
  });

  it('listening ports: a port never bound fails at once with timeout 0 ("Port 8081 not bound after 0ms") and the container is removed', async () => {
    const name = uniqueName();
    const err = await startError(new GenericContainer(IMAGE).withName(name).withExposedPorts(8081).withStartupTimeout(0));
    expect(err.message).toMatch(/Port \d+(\/(tcp|udp))? not bound after 0ms/);
    await expectNameFree(name);
  });

  it('forLogMessage: a string, a regex; a message never logged fails with timeout 0 and the container is removed', async () => {
    await using a = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forLogMessage('Listening on port 8080')).start();
    await expectHealthy(a);
    await using b = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forLogMessage(/Listening on port \d+/)).start();
    await expectHealthy(b);
    const name = uniqueName();
    const err = await startError(new GenericContainer(IMAGE).withName(name).withExposedPorts(8080)
      .withWaitStrategy(Wait.forLogMessage('unexpected')).withStartupTimeout(0));
    expect(err.message).toContain('Log message "unexpected" not received after 0ms');
    await expectNameFree(name);
  });

  it('forLogMessage after restart() waits for the new run to log it (a global regex too)', async () => {
    // Upstream sleeps 2 s before "Ready" and measures the time; here the second run logs it only on cue, through a
    // bind-mounted directory, and restart() must still be pending until then.
    const dir = await mkdtemp(join(tmpdir(), 'slipway-tc-restart-'));
    try {
      await chmod(dir, 0o777);
      await using c = await new GenericContainer(IMAGE).withBindMounts([{ source: dir, target: '/sig' }])
        .withCommand(['/bin/sh', '-c', 'echo run >> /sig/runs; if [ $(wc -l < /sig/runs) -ge 2 ]; then while [ ! -e /sig/go ]; do sleep 0.05; done; fi; echo "Ready"; exec sleep infinity'])
        .withWaitStrategy(Wait.forLogMessage(/Ready/g)).start();
      let restarted = false;
      const restart = c.restart().then(() => { restarted = true; });
      await until(() => existsSync(join(dir, 'runs')) && readFileSync(join(dir, 'runs'), 'utf8') === 'run\nrun\n', 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(restarted).toBe(false);
      writeFileSync(join(dir, 'go'), '');
      await restart;
      expect((await c.exec(['cat', '/sig/runs'])).stdout).toBe('run\nrun\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('forSuccessfulCommand: waits until the command succeeds; times out in testcontainers words', async () => {
    await using _ = await new GenericContainer(IMAGE)
      .withCommand(['/bin/sh', '-c', 'sleep 0.5; touch /tmp/test.lock; node index.js'])
      .withWaitStrategy(Wait.forSuccessfulCommand('stat /tmp/test.lock')).start();
    const err = await startError(new GenericContainer(IMAGE).withWaitStrategy(Wait.forSuccessfulCommand('stat /tmp/test.lock')).withStartupTimeout(1000));
    expect(err.message).toContain('Shell command "stat /tmp/test.lock" not successful');
  });

  it('forOneShotStartup: waits for a clean exit', async () => {
    await using _ = await new GenericContainer(IMAGE).withCommand(['/bin/sh', '-c', 'sleep 0.5; echo "Ready"'])
      .withWaitStrategy(Wait.forOneShotStartup()).start();
  });

  it('forOneShotStartup: a failing command fails the start ("Container failed to start for <id>")', async () => {
    await expect(new GenericContainer(IMAGE).withCommand(['/bin/sh', '-c', 'not-existing']).withWaitStrategy(Wait.forOneShotStartup()).start())
      .rejects.toThrow('Container failed to start for');
  });

  it('a StartupCheckStrategy: PENDING then SUCCESS starts; PENDING times out; FAIL fails after one ask', async () => {
    const ready = new (class extends StartupCheckStrategy {
      count = 0;
      override async checkStartupState(): Promise<StartupStatus> { return this.count++ < 1 ? 'PENDING' : 'SUCCESS'; }
    })();
    await using _ = await new GenericContainer(IMAGE).withWaitStrategy(ready).start();
    const pending = new (class extends StartupCheckStrategy { override async checkStartupState(): Promise<StartupStatus> { return 'PENDING'; } })();
    await expect(new GenericContainer(IMAGE).withWaitStrategy(pending).withStartupTimeout(3000).start())
      .rejects.toThrow('Container not accessible after 3000ms');
    const failing = new (class extends StartupCheckStrategy {
      count = 0;
      override async checkStartupState(): Promise<StartupStatus> { this.count++; return 'FAIL'; }
    })();
    await expect(new GenericContainer(IMAGE).withWaitStrategy(failing).withStartupTimeout(3000).start()).rejects.toThrow('Container failed to start for');
    expect(failing.count).toBe(1);
  });

  it('forAll: each strategy keeps its own timeout, the outer one applies to the others, withDeadline caps them all', async () => {
    expect((await startError(new GenericContainer(IMAGE).withWaitStrategy(Wait.forAll([
      Wait.forSuccessfulCommand('exit 1').withStartupTimeout(1000),
      Wait.forSuccessfulCommand('exit 2').withStartupTimeout(100),
    ])))).message).toContain('Shell command "exit 2" not successful after 100ms');
    expect((await startError(new GenericContainer(IMAGE).withWaitStrategy(Wait.forAll([
      Wait.forSuccessfulCommand('exit 1'),
      Wait.forSuccessfulCommand('exit 2').withStartupTimeout(100),
    ]).withStartupTimeout(1000)))).message).toContain('Shell command "exit 2" not successful after 100ms');
    expect((await startError(new GenericContainer(IMAGE).withWaitStrategy(Wait.forAll([
      Wait.forSuccessfulCommand('exit 1'),
      Wait.forSuccessfulCommand('exit 2').withStartupTimeout(1000),
    ]).withStartupTimeout(100)))).message).toContain('Shell command "exit 1" not successful after 100ms');
    expect((await startError(new GenericContainer(IMAGE).withWaitStrategy(Wait.forAll([
      Wait.forListeningPorts(),
      Wait.forSuccessfulCommand('stat /tmp/never.sock').withStartupTimeout(1000),
    ]).withDeadline(100)))).message).toContain('Composite wait strategy not successful after 100ms');
  });

  it('withHealthCheck: CMD-SHELL with curl, and CMD running /usr/bin/wget without a shell', async () => {
    await using a = await new GenericContainer(IMAGE).withExposedPorts(8080).withHealthCheck({
      test: ['CMD-SHELL', 'curl -f http://localhost:8080/hello-world || exit 1'], interval: 1000, timeout: 3000, retries: 5, startPeriod: 1000,
    }).start();
    await expectHealthy(a);
    await using b = await new GenericContainer(IMAGE).withExposedPorts(8080).withHealthCheck({
      test: ['CMD', '/usr/bin/wget', '--no-verbose', '--tries=1', '--spider', 'http://localhost:8080/hello-world'],
      interval: 1000, timeout: 3000, retries: 5, startPeriod: 1000,
    }).start();
    await expectHealthy(b);
  });

  it('a failing health check fails the start ("Health check failed"); timeout 0 reads "Health check not healthy after 0ms"', async () => {
    const name = uniqueName();
    await expect(new GenericContainer(IMAGE).withName(name).withExposedPorts(8080)
      .withHealthCheck({ test: ['CMD-SHELL', 'exit 1'], interval: 1, timeout: 3, retries: 3 }).start()).rejects.toThrow('Health check failed');
    await expectNameFree(name);
    const other = uniqueName();
    await expect(new GenericContainer(IMAGE).withName(other).withExposedPorts(8080)
      .withHealthCheck({ test: ['CMD-SHELL', 'sleep 10'], timeout: 10_000 }).withStartupTimeout(0).start())
      .rejects.toThrow('Health check not healthy after 0ms');
    await expectNameFree(other);
  });
});

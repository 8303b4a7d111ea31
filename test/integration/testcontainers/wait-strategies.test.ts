/**
 * testcontainers-node's wait-strategy tests (http, composite, startup-check, shell, log, health-check timeouts), in
 * our words, against `slipway/testcontainers`: a busybox httpd stands in for their Express fixture. Failures must carry
 * testcontainers' own text (suites match it) and slipway's code.
 */
import { expect, it } from 'vitest';
import { GenericContainer, StartupCheckStrategy, Wait, type StartupStatus } from '../../../src/testcontainers.js';
import { SlipwayError } from '../../../src/errors.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const busybox = () => fixtureRef('busybox');
/** /hello-world (200, body hello-world), /auth/ behind basic auth user:pass, anything else 404. */
const web = () => new GenericContainer(busybox())
  .withCommand(['sh', '-c', [
    'mkdir -p /www/auth',
    'printf hello-world > /www/hello-world',
    'echo secret > /www/auth/index.html',
    "echo '/auth:user:pass' > /etc/httpd.conf",
    'exec httpd -f -p 8080 -h /www -c /etc/httpd.conf',
  ].join(' && ')])
  .withExposedPorts(8080);
const sleeper = () => new GenericContainer(busybox()).withCommand(['sleep', '1000']);

async function startError(c: GenericContainer): Promise<SlipwayError> {
  return c.start().then(async (s) => { await s.stop(); throw new Error('expected the start to fail'); }, (e: SlipwayError) => e);
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('wait strategies (testcontainers compat)', { timeout: 120_000 }, () => {
  it('forHttp waits for 2xx, a status code, a status predicate, a body predicate and basic credentials', async () => {
    await using a = await web().withWaitStrategy(Wait.forHttp('/hello-world', 8080)).start();
    await using b = await web().withWaitStrategy(Wait.forHttp('/unknown-path', 8080).forStatusCode(404)).start();
    await using c = await web().withWaitStrategy(Wait.forHttp('/hello-world', 8080).forStatusCodeMatching((s) => s === 404 || s === 200)).start();
    await using d = await web().withWaitStrategy(Wait.forHttp('/hello-world', 8080).forResponsePredicate((body) => body === 'hello-world')).start();
    await using e = await web().withWaitStrategy(Wait.forHttp('/auth/', 8080).withBasicCredentials('user', 'pass').withReadTimeout(5000)).start();
    for (const s of [a, b, c, d, e]) expect((await fetch(`http://${s.getHost()}:${s.getMappedPort(8080)}/hello-world`)).status).toBe(200);
  });

  it('forHttp timeouts read "URL <path> not accessible after <ms>ms" (wrong credentials too)', async () => {
    for (const strategy of [
      Wait.forHttp('/unknown-path', 8080).forStatusCode(200),
      Wait.forHttp('/hello-world', 8080).forStatusCodeMatching(() => false),
      Wait.forHttp('/hello-world', 8080).forResponsePredicate(() => false),
      Wait.forHttp('/auth/', 8080).withBasicCredentials('user', 'wrong'),
    ]) {
      const err = await startError(web().withStartupTimeout(1000).withWaitStrategy(strategy));
      expect(err.code).toBe('ERR_WAIT_TIMEOUT');
      expect(err.message).toMatch(/URL \/[a-z-/]+ not accessible after 1000ms/);
    }
  });

  it('forAll keeps each strategy timeout, applies the outer one to the others, and withDeadline caps it all', async () => {
    expect((await startError(sleeper().withWaitStrategy(Wait.forAll([
      Wait.forSuccessfulCommand('exit 1').withStartupTimeout(1000),
      Wait.forSuccessfulCommand('exit 2').withStartupTimeout(100),
    ])))).message).toContain('Shell command "exit 2" not successful after 100ms');
    expect((await startError(sleeper().withWaitStrategy(Wait.forAll([
      Wait.forSuccessfulCommand('exit 1'),
      Wait.forSuccessfulCommand('exit 2').withStartupTimeout(1000),
    ]).withStartupTimeout(100)))).message).toContain('Shell command "exit 1" not successful after 100ms');
    expect((await startError(sleeper().withWaitStrategy(Wait.forAll([
      Wait.forListeningPorts(),
      Wait.forSuccessfulCommand('stat /tmp/never.sock').withStartupTimeout(1000),
    ]).withDeadline(100)))).message).toContain('Composite wait strategy not successful after 100ms');
  });

  it('log, listening-port and health-check timeouts read as testcontainers words them; withStartupTimeout(0) fails at once', async () => {
    expect((await startError(sleeper().withStartupTimeout(1000).withWaitStrategy(Wait.forLogMessage('never'))))
      .message).toContain('Log message "never" not received after 1000ms');
    expect((await startError(sleeper().withExposedPorts(8080).withStartupTimeout(1000)))
      .message).toContain('Port 8080 not bound after 1000ms');
    const zero = await startError(sleeper().withHealthCheck({ test: ['CMD-SHELL', 'sleep 10'], timeout: 10_000 }).withStartupTimeout(0));
    expect(zero.code).toBe('ERR_WAIT_TIMEOUT');
    expect(zero.message).toContain('Health check not healthy after 0ms');
  });

  it('a StartupCheckStrategy is asked until SUCCESS; FAIL ends the start at once; PENDING times out', async () => {
    const ready = new (class extends StartupCheckStrategy {
      count = 0;
      async checkStartupState(): Promise<StartupStatus> { return this.count++ < 1 ? 'PENDING' : 'SUCCESS'; }
    })();
    await using _ = await sleeper().withWaitStrategy(ready).start();
    expect(ready.count).toBe(2);

    const failing = new (class extends StartupCheckStrategy {
      count = 0;
      async checkStartupState(): Promise<StartupStatus> { this.count++; return 'FAIL'; }
    })();
    expect((await startError(sleeper().withWaitStrategy(failing).withStartupTimeout(3000))).message).toContain('Container failed to start for');
    expect(failing.count).toBe(1);

    const pending = new (class extends StartupCheckStrategy { async checkStartupState(): Promise<StartupStatus> { return 'PENDING'; } })();
    expect((await startError(sleeper().withWaitStrategy(pending).withStartupTimeout(1000))).message).toContain('Container not accessible after 1000ms');
  });

  it('a StartupCheckStrategy sees the container exit through inspect(), as forOneShotStartup does', async () => {
    const exitedCleanly = new (class extends StartupCheckStrategy {
      async checkStartupState(container: Parameters<StartupCheckStrategy['checkStartupState']>[0]): Promise<StartupStatus> {
        const { State } = await container.inspect();
        return State.Running ? 'PENDING' : State.ExitCode === 0 ? 'SUCCESS' : 'FAIL';
      }
    })();
    await using ok = await new GenericContainer(busybox()).withCommand(['sh', '-c', 'sleep 0.3']).withWaitStrategy(exitedCleanly).start();
    expect(ok.getId()).toHaveLength(64);
    expect((await startError(new GenericContainer(busybox()).withCommand(['sh', '-c', 'exit 3']).withWaitStrategy(exitedCleanly)))
      .message).toContain('Container failed to start for');
  });
});

import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { NoWaitStrategy, StartupCheckStrategy, Wait, runStrategy, type StartupStatus, type WaitTarget } from '../../../src/api/wait/index.js';

function target(over: Partial<WaitTarget> = {}): WaitTarget {
  return {
    id: 'c0ffee',
    host: '127.0.0.1',
    mappedPort: () => undefined,
    waitPorts: [],
    listeningTcpPorts: async () => new Set(),
    followLogs: async function* (signal) { await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))); },
    exec: async () => ({ exitCode: 1, stdout: '', stderr: '' }),
    exited: new Promise(() => {}),
    hasExited: () => false,
    healthcheck: undefined,
    ...over,
  };
}

const never = new AbortController().signal;
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as SlipwayError);

describe('wait timeouts in testcontainers words', () => {
  let server: Server | undefined;
  afterEach(async () => { await new Promise((r) => (server ? server.close(r) : r(undefined))); server = undefined; });

  it.each([
    ['forSuccessfulCommand', Wait.forSuccessfulCommand('exit 2'), 'Shell command "exit 2" not successful after 30ms'],
    ['forLogMessage', Wait.forLogMessage('ready'), 'Log message "ready" not received after 30ms'],
    ['forLogMessage(RegExp)', Wait.forLogMessage(/ready/), 'Log message "/ready/" not received after 30ms'],
    ['forHealthCheck', Wait.forHealthCheck(), 'Health check not healthy after 30ms'],
    ['forOneShotStartup', Wait.forOneShotStartup(), 'Container not accessible after 30ms'],
  ])('%s', async (_name, strategy, message) => {
    const t = target({ healthcheck: { Test: ['CMD-SHELL', 'exit 1'] } });
    const err = await failure(runStrategy(strategy, t, never, 30));
    expect(SlipwayError.is(err, 'ERR_WAIT_TIMEOUT')).toBe(true);
    expect(err.shortMessage).toBe(message);
    expect(err.hint).toMatch(/withStartupTimeout/);
  });

  it('Wait.none() (every run()) is done without a deadline; a spent bound, an aborted signal or a wait() of its own still count', async () => {
    vi.useFakeTimers();
    try {
      const done = runStrategy(Wait.none(), target(), never, 60_000);
      // The old code armed the deadline's timer (and made its timeout error) for a wait of nothing.
      expect(vi.getTimerCount()).toBe(0);
      await done;
    } finally {
      vi.useRealTimers();
    }
    expect((await failure(runStrategy(Wait.none(), target(), never, 0))).code).toBe('ERR_WAIT_TIMEOUT');
    expect((await failure(runStrategy(Wait.none().withStartupTimeout(0), target(), never, 60_000))).code).toBe('ERR_WAIT_TIMEOUT');
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    expect(await failure(runStrategy(Wait.none(), target(), aborted.signal, 60_000))).toMatchObject({ message: 'stop' });
    class OwnWait extends NoWaitStrategy {
      protected override async wait(): Promise<void> { throw new Error('its own wait ran'); }
    }
    expect(await failure(runStrategy(new OwnWait(), target(), never, 60_000))).toMatchObject({ message: 'its own wait ran' });
  });

  it('forListeningPorts names the port not bound yet', async () => {
    const t = target({ waitPorts: [{ port: 80, protocol: 'tcp' }, { port: 8080, protocol: 'tcp' }], listeningTcpPorts: async () => new Set([80]) });
    expect((await failure(runStrategy(Wait.forListeningPorts(), t, never, 30))).shortMessage).toBe('Port 8080 not bound after 30ms');
  });

  it('a spent bound (withStartupTimeout(0)) still names the port: Port 8081 not bound after 0ms', async () => {
    let probes = 0;
    const t = target({ waitPorts: [{ port: 8081, protocol: 'tcp' }], listeningTcpPorts: async () => { probes++; return new Set(); } });
    expect((await failure(runStrategy(Wait.forListeningPorts(), t, never, 0))).shortMessage).toBe('Port 8081 not bound after 0ms');
    expect(probes).toBe(0);
  });

  it('forOneShotStartup: a failed one-shot reads "Container failed to start for <id>" and keeps the exit code', async () => {
    const err = await failure(runStrategy(Wait.forOneShotStartup(), target({ exited: Promise.resolve({ exitCode: 127, signal: null }), hasExited: () => true }), never, 5_000));
    expect(err.code).toBe('ERR_CONTAINER_EXITED');
    expect(err.shortMessage).toBe('Container failed to start for c0ffee: the one-shot process exited with code 127');
  });

  it('forHttp: URL not accessible, with the strategy own timeout winning over the container one', async () => {
    server = createServer((_q, res) => { res.writeHead(404); res.end(); });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const err = await failure(runStrategy(Wait.forHttp('/hello-world', 80).withStartupTimeout(40), target({ mappedPort: () => port }), never, 60_000));
    expect(err.shortMessage).toBe('URL /hello-world not accessible after 40ms');
  });

  it('withStartupTimeout(0) times out at once instead of being rejected', async () => {
    let probes = 0;
    const err = await failure(runStrategy(Wait.forSuccessfulCommand('true').withStartupTimeout(0), target({ exec: async () => { probes++; return { exitCode: 0, stdout: '', stderr: '' }; } }), never, 60_000));
    expect(err.shortMessage).toBe('Shell command "true" not successful after 0ms');
    expect(probes).toBe(0);
    // A log wait follows the logs forever unless the spent bound stops it before it starts.
    expect((await failure(runStrategy(Wait.forLogMessage('never'), target(), never, 0))).shortMessage).toBe('Log message "never" not received after 0ms');
    const composite = Wait.forAll([Wait.forLogMessage('never')]).withDeadline(0);
    expect((await failure(runStrategy(composite, target(), never, 60_000))).shortMessage).toBe('Composite wait strategy not successful after 0ms');
    expect(() => Wait.forLogMessage('x').withStartupTimeout(-1)).toThrow(/startupTimeout/);
  });

  it('forAll: each child keeps its own timeout; the others get the outer one', async () => {
    const inner = Wait.forAll([Wait.forSuccessfulCommand('exit 1').withStartupTimeout(60_000), Wait.forSuccessfulCommand('exit 2').withStartupTimeout(30)]);
    expect((await failure(runStrategy(inner, target(), never, 60_000))).shortMessage).toBe('Shell command "exit 2" not successful after 30ms');
    const outer = Wait.forAll([Wait.forSuccessfulCommand('exit 1'), Wait.forSuccessfulCommand('exit 2').withStartupTimeout(60_000)]).withStartupTimeout(30);
    expect((await failure(runStrategy(outer, target(), never, 60_000))).shortMessage).toBe('Shell command "exit 1" not successful after 30ms');
    const fromContainer = Wait.forAll([Wait.forSuccessfulCommand('exit 3')]);
    expect((await failure(runStrategy(fromContainer, target(), never, 30))).shortMessage).toBe('Shell command "exit 3" not successful after 30ms');
  });

  it('forAll(...).withDeadline caps the whole wait', async () => {
    const s = Wait.forAll([Wait.forSuccessfulCommand('exit 1'), Wait.forSuccessfulCommand('stat /never').withStartupTimeout(60_000)]).withDeadline(30);
    const err = await failure(runStrategy(s, target(), never, 60_000));
    expect(SlipwayError.is(err, 'ERR_WAIT_TIMEOUT')).toBe(true);
    expect(err.shortMessage).toBe('Composite wait strategy not successful after 30ms');
  });

  it('forAll: the first child to fail stops the others', async () => {
    let probes = 0;
    const t = target({ exec: async (argv) => { if (argv[2] === 'slow') probes++; return { exitCode: 1, stdout: '', stderr: '' }; } });
    const s = Wait.forAll([Wait.forSuccessfulCommand('slow'), Wait.forSuccessfulCommand('fast').withStartupTimeout(20)]);
    await failure(runStrategy(s, t, never, 60_000));
    const after = probes;
    await new Promise((r) => setTimeout(r, 200));
    expect(probes).toBe(after);
  });

  it('forHealthCheck: retries consecutive failures make it unhealthy', async () => {
    const t = target({ healthcheck: { Test: ['CMD-SHELL', 'exit 1'], Interval: 1e6, Retries: 3 } });
    const err = await failure(runStrategy(Wait.forHealthCheck(), t, never, 60_000));
    expect(err.code).toBe('ERR_CONTAINER_START');
    expect(err.shortMessage).toMatch(/^Health check failed: unhealthy/);
  });
});

describe('forHttp options', () => {
  let server: Server | undefined;
  afterEach(async () => { await new Promise((r) => (server ? server.close(r) : r(undefined))); server = undefined; });
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  it('withBasicCredentials sends Authorization; withHeaders merges', async () => {
    const seen: (string | undefined)[] = [];
    const port = await serve((q, res) => { seen.push(q.headers.authorization, q.headers['x-a'] as string, q.headers['x-b'] as string); res.writeHead(q.headers.authorization === `Basic ${Buffer.from('user:pass').toString('base64')}` ? 200 : 401); res.end(); });
    await runStrategy(Wait.forHttp('/auth', 80).withHeaders({ 'x-a': '1' }).withHeaders({ 'x-b': '2' }).withBasicCredentials('user', 'pass'), target({ mappedPort: () => port }), never, 5_000);
    expect(seen).toEqual([`Basic ${Buffer.from('user:pass').toString('base64')}`, '1', '2']);
  });

  it('succeeds on any 2xx by default, and status and body predicates must all hold', async () => {
    const port = await serve((_q, res) => { res.writeHead(204); res.end(); });
    await runStrategy(Wait.forHttp('/', 80), target({ mappedPort: () => port }), never, 5_000);
    const both = Wait.forHttp('/', 80).forStatusCode(204).forStatusCodeMatching((s) => s !== 204);
    expect((await failure(runStrategy(both, target({ mappedPort: () => port }), never, 100))).code).toBe('ERR_WAIT_TIMEOUT');
  });

  it('withReadTimeout: a slow answer counts only when it comes within the read timeout', async () => {
    const port = await serve((_q, res) => { setTimeout(() => { res.writeHead(200); res.end(); }, 300); });
    expect((await failure(runStrategy(Wait.forHttp('/', 80).withReadTimeout(50), target({ mappedPort: () => port }), never, 500))).code).toBe('ERR_WAIT_TIMEOUT');
    await runStrategy(Wait.forHttp('/', 80).withReadTimeout(2_000), target({ mappedPort: () => port }), never, 5_000);
    expect(() => Wait.forHttp('/', 80).withReadTimeout(0)).toThrow(/readTimeout/);
  });

  it('usingTls refuses a self-signed certificate unless allowInsecure()', async () => {
    // A throwaway self-signed certificate for 127.0.0.1 (openssl req -x509 -newkey ec, valid until 2126), test-only.
    const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3tpRPapqDoBh9k3Q
K6v789puXDxLGQLgirNhFagnyfShRANCAAQq2Xlekjwt2eCUmoCUceNN7BZi2YFJ
FmnAPbz6nLN5x/xHtQPTr6d/tsoW/V6yOknTOv020MHRNF5ZSuWxUD8R
-----END PRIVATE KEY-----`;
    const cert = `-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUOBO/K2uajOtBpfUN1ofEC3ft9iwwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNDExNTYxN1oYDzIxMjYxMTEw
MTE1NjE3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQq2Xlekjwt2eCUmoCUceNN7BZi2YFJFmnAPbz6nLN5x/xHtQPTr6d/
tsoW/V6yOknTOv020MHRNF5ZSuWxUD8Ro28wbTAdBgNVHQ4EFgQUN3d+BHmP6Z/N
PhKl4cZ19zwdJj0wHwYDVR0jBBgwFoAUN3d+BHmP6Z/NPhKl4cZ19zwdJj0wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDRwAwRAIgJY59DnAGWeQHk7cdf6MrCW5TIFFOz9X2YMZZcEbah/ECIDH+
NbWMuTOgHj99Uq+Llh9ocdMJzqfce0UWf4VOaG0A
-----END CERTIFICATE-----`;
    const tls = createTlsServer({ key, cert }, (_q, res) => { res.writeHead(200); res.end('hello-world'); });
    server = tls as unknown as Server;
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const port = (tls.address() as { port: number }).port;
    const t = target({ mappedPort: () => port });
    expect((await failure(runStrategy(Wait.forHttp('/hello-world', 8443).usingTls(), t, never, 300))).shortMessage).toBe('URL /hello-world not accessible after 300ms');
    await runStrategy(Wait.forHttp('/hello-world', 8443).usingTls().allowInsecure().forResponsePredicate((b) => b === 'hello-world'), t, never, 5_000);
    // Plain HTTP to a TLS port is not an answer either.
    expect((await failure(runStrategy(Wait.forHttp('/hello-world', 8443), t, never, 300))).code).toBe('ERR_WAIT_TIMEOUT');
  });

  it('abortOnContainerExit: the error says so in testcontainers words, with the last 50 log lines', async () => {
    const lines = Array.from({ length: 55 }, (_, i) => String(i));
    const exited = target({ mappedPort: () => 1, hasExited: () => true, followLogs: async function* () { yield* lines; } });
    const err = await failure(runStrategy(Wait.forHttp('/', 80, { abortOnContainerExit: true }), exited, never, 5_000));
    expect(err.code).toBe('ERR_CONTAINER_EXITED');
    expect(err.shortMessage).toBe(`Container exited during HTTP healthCheck, last 50 logs: ${lines.slice(5).join('\n')}`);
  });
});

describe('StartupCheckStrategy', () => {
  it('is asked until SUCCESS, with the container id and an inspect()', async () => {
    const seen: string[] = [];
    const s = new (class extends StartupCheckStrategy {
      count = 0;
      async checkStartupState(c: Parameters<StartupCheckStrategy['checkStartupState']>[0], id: string): Promise<StartupStatus> {
        seen.push(id, c.id, (await c.inspect()).State.Status);
        return this.count++ < 1 ? 'PENDING' : 'SUCCESS';
      }
    })();
    await runStrategy(s, target(), never, 10_000);
    expect(s.count).toBe(2);
    expect(seen.slice(0, 3)).toEqual(['c0ffee', 'c0ffee', 'running']);
  });

  it('FAIL ends the wait at once; PENDING times out', async () => {
    const fail = new (class extends StartupCheckStrategy {
      count = 0;
      async checkStartupState(): Promise<StartupStatus> { this.count++; return 'FAIL'; }
    })();
    const err = await failure(runStrategy(fail, target(), never, 10_000));
    expect(err.shortMessage).toBe('Container failed to start for c0ffee');
    expect(fail.count).toBe(1);
    const pending = new (class extends StartupCheckStrategy { async checkStartupState(): Promise<StartupStatus> { return 'PENDING'; } })();
    expect((await failure(runStrategy(pending, target(), never, 30))).shortMessage).toBe('Container not accessible after 30ms');
  });
});

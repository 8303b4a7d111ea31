import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { Wait, type WaitTarget } from '../../../src/api/wait/index.js';
import { MAX_BODY_BYTES } from '../../../src/api/wait/strategies.js';

function target(over: Partial<WaitTarget> = {}): WaitTarget {
  return {
    host: '127.0.0.1',
    mappedPort: () => undefined,
    waitPorts: [],
    listeningTcpPorts: async () => new Set(),
    followLogs: async function* () { /* no lines */ },
    exec: async () => ({ exitCode: 1, stdout: '', stderr: '' }),
    exited: new Promise(() => {}),
    hasExited: () => false,
    healthcheck: undefined,
    ...over,
  };
}

const enoent = () => new SlipwayError('ERR_RUNTIME', 'exec /no/such: ENOENT (No such file or directory)', { hint: 'the command was not found in the image' });

describe('wait strategies', () => {
  let server: Server | undefined;
  afterEach(async () => { await new Promise((r) => (server ? server.close(r) : r(undefined))); server = undefined; });

  it('forSuccessfulCommand: a probe that cannot run ends the wait at once with its error', async () => {
    const signal = AbortSignal.timeout(10_000);
    const err = await Wait.forSuccessfulCommand(['/no/such']).waitUntilReady(target({ exec: async () => { throw enoent(); } }), signal).then(() => undefined, (e: unknown) => e);
    expect(signal.aborted).toBe(false);
    expect(SlipwayError.is(err, 'ERR_RUNTIME')).toBe(true);
    expect((err as SlipwayError).message).toMatch(/could not run.*ENOENT/);
  });

  it('forHealthCheck: a HEALTHCHECK command that cannot run ends the wait at once', async () => {
    const signal = AbortSignal.timeout(10_000);
    const t = target({ exec: async () => { throw enoent(); }, healthcheck: { Test: ['CMD', '/no/such'] } });
    const err = await Wait.forHealthCheck().waitUntilReady(t, signal).then(() => undefined, (e: unknown) => e);
    expect(signal.aborted).toBe(false);
    expect(SlipwayError.is(err, 'ERR_RUNTIME')).toBe(true);
  });

  it('forHealthCheck: runs every StartInterval during StartPeriod, not every Interval', async () => {
    // Interval 1 s (slipway's cap) and a 60 s start period probing every 50 ms: six runs fit well within 3 s only
    // when the start interval is used (at the interval they would take 5 s).
    let n = 0;
    const t = target({
      exec: async () => ({ exitCode: ++n < 6 ? 1 : 0, stdout: '', stderr: '' }),
      healthcheck: { Test: ['CMD', 'true'], Interval: 30_000e6, StartPeriod: 60_000e6, StartInterval: 50e6, Retries: 3 },
    });
    await Wait.forHealthCheck().withStartupTimeout(3000).waitUntilReady(t, AbortSignal.timeout(10_000));
    expect(n).toBe(6);
  });

  it.each([1, 1_500_000, -5, 1e30])('forHealthCheck: an image\'s HEALTHCHECK timeout of %d ns runs the probe (no RangeError from the timer)', async (timeout) => {
    let n = 0;
    const t = target({ exec: async () => ({ exitCode: ++n < 2 ? 1 : 0, stdout: '', stderr: '' }), healthcheck: { Test: ['CMD', 'true'], Timeout: timeout, Interval: 1e6 } });
    await Wait.forHealthCheck().waitUntilReady(t, AbortSignal.timeout(10_000));
    expect(n).toBe(2);
  });

  it('forSuccessfulCommand: a non-zero exit is retried', async () => {
    let n = 0;
    await Wait.forSuccessfulCommand('true').waitUntilReady(target({ exec: async () => ({ exitCode: ++n < 3 ? 1 : 0, stdout: '', stderr: '' }) }), AbortSignal.timeout(10_000));
    expect(n).toBe(3);
  });

  it('forOneShotStartup leaves no abort listener behind', async () => {
    const ac = new AbortController();
    await Wait.forOneShotStartup().waitUntilReady(target({ exited: Promise.resolve({ exitCode: 0, signal: null }) }), ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  async function endless(prefix: string): Promise<{ port: number; closed: Promise<number> }> {
    let resolveClosed!: (n: number) => void;
    const closed = new Promise<number>((r) => { resolveClosed = r; });
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(prefix);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => { while (!res.destroyed && res.write(chunk)) sent += chunk.length; };
      res.on('drain', pump);
      res.on('close', () => resolveClosed(sent));
      pump();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { port: (server!.address() as { port: number }).port, closed };
  }

  it('forHttp on a port that is not published names the builder method of each API', async () => {
    const err = await Wait.forHttp('/', 8080).waitUntilReady(target(), new AbortController().signal).then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_PORT_NOT_EXPOSED')).toBe(true);
    expect((err as SlipwayError).hint).toBe('publish it: .expose(8080) on a Container, .withExposedPorts(8080) on a testcontainers GenericContainer');
  });

  it('forHttp with a body predicate reads at most MAX_BODY_BYTES of an endless body, then lets go of it', async () => {
    const { port, closed } = await endless('ready\n');
    const seen: number[] = [];
    const signal = AbortSignal.timeout(20_000);
    await Wait.forHttp('/', 80).forResponsePredicate((b) => { seen.push(b.length); return b.startsWith('ready'); })
      .waitUntilReady(target({ mappedPort: () => port }), signal);
    expect(signal.aborted).toBe(false);
    expect(seen).toEqual([MAX_BODY_BYTES]);
    await closed; // the server saw the client go away
  });

  it('forHttp without a body predicate does not read the body', async () => {
    const { port, closed } = await endless('');
    const signal = AbortSignal.timeout(20_000);
    await Wait.forHttp('/', 80).waitUntilReady(target({ mappedPort: () => port }), signal);
    expect(signal.aborted).toBe(false);
    await closed;
  });

  it('forHttp: a predicate that throws ends the wait with its error', async () => {
    const { port } = await endless('x');
    const signal = AbortSignal.timeout(20_000);
    const err = await Wait.forHttp('/', 80).forResponsePredicate(() => { throw new TypeError('bad predicate'); })
      .waitUntilReady(target({ mappedPort: () => port }), signal).then(() => undefined, (e: unknown) => e);
    expect(signal.aborted).toBe(false);
    expect(err).toBeInstanceOf(TypeError);
  });
});

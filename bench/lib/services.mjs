// The two services of scenarios 3 and 5, started the same way by slipway and by testcontainers-node:
// same image, same wait condition, then the same first request from the host through the published
// port, which is part of the measured time.
//   redis     wait for the log line "Ready to accept connections", then PING → +PONG
//   postgres  wait for "database system is ready to accept connections" twice (the entrypoint's
//             temporary init server prints it once, the real server once more), then
//             `psql -c 'select 1'` from the host, retried until it answers
import net from 'node:net';
import { sh, until } from './proc.mjs';

/** One PING over a fresh connection; resolves true on +PONG. */
export function redisPing(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('PING timed out')); }, 2000);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) { clearTimeout(timer); s.destroy(); resolve(buf.startsWith('+PONG')); }
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(buf.startsWith('+PONG')); });
  });
}

export async function pgSelect1(port, host = '127.0.0.1') {
  const r = await sh('psql', ['-h', host, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-tAc', 'select 1'], {
    allowFail: true, timeoutMs: 5000, env: { ...process.env, PGPASSWORD: 'test', PGCONNECT_TIMEOUT: '2' },
  });
  return r.code === 0 && r.stdout.trim() === '1';
}

export const SERVICES = {
  redis: {
    port: 6379,
    env: {},
    log: /Ready to accept connections/,
    times: 1,
    firstRequest: (port) => until(() => redisPing(port), { timeoutMs: 30_000, what: 'redis PING' }),
  },
  postgres: {
    port: 5432,
    env: { POSTGRES_PASSWORD: 'test' },
    log: /database system is ready to accept connections/,
    times: 2,
    firstRequest: (port) => until(() => pgSelect1(port), { timeoutMs: 60_000, intervalMs: 20, what: 'postgres select 1' }),
  },
};

/** Starts `name` with slipway until ready; returns the started container. */
export async function startWithSlipway(slipway, ref, name) {
  const svc = SERVICES[name];
  const c = await new slipway.Container(ref).withEnv(svc.env).expose(svc.port)
    .waitFor(slipway.Wait.forLogMessage(svc.log, svc.times)).withStartupTimeout(120_000).start();
  try {
    await svc.firstRequest(c.getMappedPort(svc.port));
  } catch (e) {
    await c.remove().catch(() => {});
    throw e;
  }
  return { stop: () => c.remove(), handle: c };
}

/** Starts `name` with testcontainers-node on Docker until ready; returns the started container. */
export async function startWithTestcontainers(tc, ref, name) {
  const svc = SERVICES[name];
  const c = await new tc.GenericContainer(ref).withEnvironment(svc.env).withExposedPorts(svc.port)
    .withWaitStrategy(tc.Wait.forLogMessage(svc.log, svc.times)).withStartupTimeout(120_000).start();
  try {
    await svc.firstRequest(c.getMappedPort(svc.port));
  } catch (e) {
    await c.stop().catch(() => {});
    throw e;
  }
  return { stop: () => c.stop({ timeout: 0 }), handle: c };
}

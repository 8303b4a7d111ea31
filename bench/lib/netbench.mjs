// Builds and drives bench/native/netbench.c (a static sink/hello server and its clients).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './context.mjs';
import { has, sh, Skip, until } from './proc.mjs';

export const NETBENCH = join(BENCH_DIR, '.build/netbench');
const SOURCE = join(BENCH_DIR, 'native/netbench.c');

/** Compiles netbench (static, so it runs in the busybox fixture) when missing or older than its source. */
export async function ensureNetbench() {
  if (existsSync(NETBENCH) && statSync(NETBENCH).mtimeMs >= statSync(SOURCE).mtimeMs) return NETBENCH;
  if (!(await has('gcc'))) throw new Skip('gcc is needed to build bench/native/netbench.c (apt-get install gcc libc6-dev)');
  mkdirSync(join(BENCH_DIR, '.build'), { recursive: true });
  await sh('gcc', ['-O2', '-static', '-Wall', '-o', NETBENCH, SOURCE]);
  return NETBENCH;
}

/** Seconds to send `bytes` through 127.0.0.1:port and see the sink close. */
export async function sendSeconds(port, bytes) {
  const r = await sh(NETBENCH, ['send', '127.0.0.1', String(port), String(bytes)], { timeoutMs: 300_000 });
  return Number(r.stdout.trim());
}

/** Microseconds of each of `count` connect + hello byte + close through 127.0.0.1:port. */
export async function connectMicros(port, count) {
  const r = await sh(NETBENCH, ['connect', '127.0.0.1', String(port), String(count)], { timeoutMs: 120_000 });
  return r.stdout.trim().split('\n').map(Number);
}

/** Waits until the hello server answers through `port`. */
export function waitHello(port, what) {
  return until(async () => (await sh(NETBENCH, ['connect', '127.0.0.1', String(port), '1'], { allowFail: true, timeoutMs: 5000 })).code === 0,
    { timeoutMs: 30_000, intervalMs: 50, what: `${what} hello port` });
}

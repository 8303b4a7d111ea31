// withReuse() across processes on an engine (engine-reuse.ts; container/reuse.test.ts tests the native reuse keeper):
// a second process gets the same container by its reuse-key label, and a SIGKILLed holder leaves it serving (no session
// label, so no watchdog takes it; nothing removes it after an idle timeout there: ARCHITECTURE.md).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { fixtureRef, skipUnless, spawnTsChild } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

interface ChildInfo { id: string; port: number; reused: boolean; before: string | null }
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const made: string[] = [];
afterAll(() => { if (made.length) execFileSync('docker', ['rm', '-f', ...made], { stdio: 'ignore' }); });

function child(extra: NodeJS.ProcessEnv = {}) {
  return spawnTsChild<ChildInfo>(join(import.meta.dirname, '../container/reuse-child.mts'), {
    SLIPWAY_RUNTIME: 'engine', REUSE_REF: fixtureRef('redis'), REUSE_SALT: `engine-${process.pid}`, ...extra,
  });
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: withReuse() across processes', () => {
  it('a second process gets the same container (id, port, data), not a newer one of another image labelled with its key; a SIGKILLed holder leaves it serving', async () => {
    const first = await child({ REUSE_HOLD: '1', REUSE_WRITE: 'from-first' });
    made.push(first.info.id);
    expect(first.info.reused).toBe(false);
    const labels = JSON.parse(docker('inspect', '-f', '{{json .Config.Labels}}', first.info.id)) as Record<string, string>;
    expect(labels['org.slipway.reuse-key']).toMatch(/^[0-9a-f]{64}$/);
    expect(labels).not.toHaveProperty(['org.slipway.session']);
    // The attacker: an image carrying the same key as a label of its own (predictable: it hashes the public image id
    // and the plan). Docker gives a container its image's labels, so a container of it, newer than ours, used to be
    // the first the label filter listed: the second process was handed it (and its data, its port) as its redis.
    const hostileTag = `slipway-test/hostile-reuse:${process.pid}`;
    execFileSync('docker', ['build', '-q', '-t', hostileTag, '-'], {
      input: `FROM ${fixtureRef('busybox')}\nLABEL org.slipway.reuse-key=${labels['org.slipway.reuse-key']}\n`, stdio: ['pipe', 'ignore', 'inherit'],
    });
    const hostile = docker('run', '-d', hostileTag, 'sleep', '3600');
    try {
      expect(JSON.parse(docker('inspect', '-f', '{{json .Config.Labels}}', hostile))).toMatchObject({ 'org.slipway.reuse-key': labels['org.slipway.reuse-key'] });
      const second = await child();
      expect(second.info.id).not.toBe(hostile);
      expect(second.info).toMatchObject({ id: first.info.id, port: first.info.port, reused: true, before: 'from-first' });
      await checkSecondExits(second);
    } finally {
      execFileSync('docker', ['rm', '-f', hostile], { stdio: 'ignore' });
      execFileSync('docker', ['rmi', '-f', hostileTag], { stdio: 'ignore' });
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const r = new Redis({ host: '127.0.0.1', port: first.info.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await r.connect();
      expect(await r.get('slipway-reuse')).toBe('written');
    } finally {
      r.disconnect();
    }
  });
});

/**
 * A process that only got a reused container back exits by itself, as natively (the watches of a reused container do
 * not hold Node: container/script-exit.test.ts); a generous bound that only catches a hang.
 */
async function checkSecondExits(second: Awaited<ReturnType<typeof child>>): Promise<void> {
  const code = await Promise.race([
    new Promise((r) => { if (second.child.exitCode !== null) r(second.child.exitCode); else second.child.once('exit', r); }),
    new Promise((r) => setTimeout(() => r('still running after 30 s'), 30_000).unref()),
  ]);
  if (typeof code === 'string') second.child.kill('SIGKILL');
  expect(code).toBe(0);
}

/**
 * Hole: the keeper forked one worker per exec/copy request with no cap, so a careless `Promise.all` of many execs
 * (or probes a hostile image makes hang) forked as many processes as there were requests. At most CAP run at
 * once per keeper now; the rest wait in Node and all complete.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper, MAX_WORKERS as CAP } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

function childCount(pid: number): number {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).length;
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('keeper: worker processes are capped', () => {
  it(`runs ${CAP * 2 + 20} concurrent execs with at most ${CAP} workers at a time, and every one completes`, async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const keeper = await Keeper.get();
    const base = childCount(keeper.pid);
    let most = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        most = Math.max(most, childCount(keeper.pid) - base);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const n = CAP * 2 + 20;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.exec(['sh', '-c', `sleep 0.5; echo ${i}`])));
    running = false;
    await sampler;
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(CAP);
  });


  it('kills an aborted exec (a probe past its timeout) with what it started, and frees its worker', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const keeper = await Keeper.get();
    const base = childCount(keeper.pid);
    const aborted = await Promise.all(Array.from({ length: 3 }, () => c.exec(['sh', '-c', 'sleep 4242 & sleep 4243'], { signal: AbortSignal.timeout(300) }).then(() => 'ran', (e: unknown) => (e as { code?: string }).code)));
    expect(aborted).toEqual(['ERR_ABORTED', 'ERR_ABORTED', 'ERR_ABORTED']);
    const left = async () => (await c.exec(['sh', '-c', 'ps -o args | grep -c "^sleep 424[23]" || true'])).stdout.trim();
    for (let i = 0; i < 100 && ((await left()) !== '0' || childCount(keeper.pid) > base); i++) await new Promise((r) => setTimeout(r, 50));
    // The old keeper left all six sleeps running (and their three workers) until the container was removed.
    expect(await left()).toBe('0');
    expect(childCount(keeper.pid)).toBe(base);
  });
});

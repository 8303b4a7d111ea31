/**
 * Hole: the keeper forked one worker per exec/copy request with no cap, so a careless `Promise.all` of many execs
 * (or probes a hostile image makes hang) forked as many processes as there were requests. At most CAP run at
 * once per keeper now; the rest wait in Node and all complete.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper, MAX_WORKERS as CAP, WORKER_QUEUE_WARN_MS } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, isPoolProcess, keeperHasReadySpare, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** The keeper's children, not counting its prepared network namespace for the next container (native/netpool.h). */
function childCount(pid: number): number {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((p) => p && !isPoolProcess(Number(p))).length;
}

/** The keeper prepares a network namespace for the next container after a START (its child, then a slirp4netns): counted from once that is done. */
async function poolSettled(pid: number): Promise<void> {
  for (const t0 = Date.now(); !keeperHasReadySpare(pid) && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 20));
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('keeper: worker processes are capped', () => {
  it(`runs ${CAP * 2 + 20} concurrent execs with at most ${CAP} workers at a time, and every one completes`, async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const keeper = await Keeper.get();
    await poolSettled(keeper.pid);
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
    await poolSettled(keeper.pid);
    const base = childCount(keeper.pid);
    const aborted = await Promise.all(Array.from({ length: 3 }, () => c.exec(['sh', '-c', 'sleep 4242 & sleep 4243'], { signal: AbortSignal.timeout(300) }).then(() => 'ran', (e: unknown) => (e as { code?: string }).code)));
    expect(aborted).toEqual(['ERR_ABORTED', 'ERR_ABORTED', 'ERR_ABORTED']);
    const left = async () => (await c.exec(['sh', '-c', 'ps -o args | grep -c "^sleep 424[23]" || true'])).stdout.trim();
    for (let i = 0; i < 100 && ((await left()) !== '0' || childCount(keeper.pid) > base); i++) await new Promise((r) => setTimeout(r, 50));
    // The old keeper left all six sleeps running (and their three workers) until the container was removed.
    expect(await left()).toBe('0');
    expect(childCount(keeper.pid)).toBe(base);
  });

  it('kills what an aborted exec started even after setsid or a double fork (the hostile probe), and leaves a finished exec\'s daemons alone', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const keeper = await Keeper.get();
    await poolSettled(keeper.pid);
    const base = childCount(keeper.pid);
    // The attacker: a new session (leaves the exec's process group) and a double fork (leaves its parent), then hangs.
    const escape = 'setsid sh -c "sleep 4244" & (sh -c "sleep 4245 &") ; setsid sh -c "setsid sleep 4246 &" ; sleep 4247';
    const aborted = await c.exec(['sh', '-c', escape], { signal: AbortSignal.timeout(500) }).then(() => 'ran', (e: unknown) => (e as { code?: string }).code);
    expect(aborted).toBe('ERR_ABORTED');
    const left = async () => (await c.exec(['sh', '-c', 'ps -o args | grep -c "^sleep 424[4-7]" || true'])).stdout.trim();
    for (let i = 0; i < 100 && ((await left()) !== '0' || childCount(keeper.pid) > base); i++) await new Promise((r) => setTimeout(r, 50));
    // The old keeper killed the process group only: sleep 4244, 4245 and 4246 ran on until the container was removed.
    expect(await left()).toBe('0');
    expect(childCount(keeper.pid)).toBe(base);
    // An exec that ends by itself keeps Docker's behaviour: what it left in the background runs on.
    expect((await c.exec(['sh', '-c', 'setsid sleep 4248 & echo started'])).stdout).toBe('started\n');
    expect((await c.exec(['sh', '-c', 'ps -o args | grep -c "^sleep 4248"'])).stdout.trim()).toBe('1');
  });

  it(`warns when ${CAP} never-ending execs make a later one wait, and runs it once they are aborted`, async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if ((w as { code?: string }).code === 'SLIPWAY_WORKERS_BUSY') warnings.push(w);
    };
    process.on('warning', onWarning);
    const stop = new AbortController();
    setMaxListeners(CAP + 10, stop.signal);
    try {
      // The careless caller: execs that never end, with nothing to end them but this test's abort.
      const forever = Array.from({ length: CAP }, () => c.exec(['sleep', '1000'], { signal: stop.signal }).then(() => 'ran', (e: unknown) => (e as { code?: string }).code));
      let done = false;
      const later = c.exec(['echo', 'later']).finally(() => (done = true));
      for (let i = 0; i < 100 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, WORKER_QUEUE_WARN_MS / 50));
      // The old keeper queued it silently (a debug log line only).
      expect(done).toBe(false);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toMatch(new RegExp(`waited .* for one of this process's ${CAP} keeper workers \\(running: ${CAP} exec; waiting: 1\\)`));
      expect(warnings[0]!.message).toContain('AbortSignal');
      stop.abort();
      expect(new Set(await Promise.all(forever))).toEqual(new Set(['ERR_ABORTED']));
      expect((await later).stdout).toBe('later\n');
    } finally {
      stop.abort();
      process.off('warning', onWarning);
    }
  });
});

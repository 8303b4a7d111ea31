/**
 * Gap carried from issue 9: withStartupTimeout bounded only the readiness wait, so a boot step that never answered
 * (here: an outbound network helper that never gets ready; a keeper request, a copy) kept start() pending for as long
 * as that step's own limit, or for good. The whole boot is now bounded by the startup timeout as well: start() fails
 * with ERR_START_TIMEOUT naming the step, and nothing of the container is left.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, keeperRemovalsDone, skipUnless, until, userNamespacesAllowed } from '../harness/index.js';

const STUCK = '7391'; // the fake helpers' `sleep` argument, to find them in /proc
const fakeBin = mkdtempSync(join(tmpdir(), 'slipway-stuck-helper-'));
for (const name of ['slirp4netns', 'pasta']) {
  writeFileSync(join(fakeBin, name), `#!/bin/sh\nexec sleep ${STUCK}\n`);
  chmodSync(join(fakeBin, name), 0o755);
}
// This file runs in its own worker: the network helpers are looked up on PATH at each start.
process.env.PATH = `${fakeBin}:${process.env.PATH ?? ''}`;
afterAll(() => rmSync(fakeBin, { recursive: true, force: true }));

function stuckHelpers(): number {
  let n = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${STUCK}\0`) n++;
    } catch { /* gone */ }
  }
  return n;
}

function children(pid: number): string {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('start: the boot is bounded by the startup timeout', () => {
  it('fails with ERR_START_TIMEOUT naming the stuck step, and leaves nothing', async () => {
    const keeper = await Keeper.get();
    await keeperRemovalsDone(keeper.stateDir);
    const before = { children: children(keeper.pid), dirs: readdirSync(keeper.stateDir).sort() };
    const err = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).withStartupTimeout(1500).start().then(
      async (c) => { await c.remove(); return undefined; },
      (e: unknown) => e,
    );
    expect(SlipwayError.is(err, 'ERR_START_TIMEOUT')).toBe(true);
    expect((err as SlipwayError).shortMessage).toMatch(/did not boot within 1500 ms \(stuck at: starting the outbound network helper\)/);
    await until(() => stuckHelpers() === 0 && children(keeper.pid) === before.children, 5000).catch(() => undefined);
    expect(stuckHelpers()).toBe(0);
    expect(children(keeper.pid)).toBe(before.children);
    await keeperRemovalsDone(keeper.stateDir);
    expect(readdirSync(keeper.stateDir).sort()).toEqual(before.dirs);
  });
});

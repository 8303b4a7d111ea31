/**
 * A container's slirp4netns is the keeper's child (native/outbound.c): when it fails before it is ready, start()
 * still says how it exited and what it printed, and nothing of it or the container is left.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, until, userNamespacesAllowed } from '../harness/index.js';

const fakeBin = mkdtempSync(join(tmpdir(), 'slipway-failing-helper-'));
writeFileSync(join(fakeBin, 'slirp4netns'), '#!/bin/sh\necho "no tap for you" >&2\nexit 3\n');
writeFileSync(join(fakeBin, 'pasta'), '#!/bin/sh\necho "pasta is off" >&2\nexit 4\n');
for (const name of ['slirp4netns', 'pasta']) chmodSync(join(fakeBin, name), 0o755);
// This file runs in its own worker: the network helpers are looked up on PATH at each start.
process.env.PATH = `${fakeBin}:${process.env.PATH ?? ''}`;
afterAll(() => rmSync(fakeBin, { recursive: true, force: true }));

const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('slirp4netns started by the keeper', () => {
  it('a helper that exits before it is ready fails start() with its exit code and output, and leaves nothing', async () => {
    const keeper = await Keeper.get();
    const before = children(keeper.pid);
    const err = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start().then(
      async (c) => { await c.remove(); return undefined; },
      (e: unknown) => e,
    );
    expect(SlipwayError.is(err, 'ERR_NETWORK'), String(err)).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(/slirp4netns exited \(code 3\) before it could configure eth0 in the namespace of pid \d+/);
    expect(message).toContain('slirp4netns said:\nno tap for you');
    expect(message).toMatch(/pasta exited \(code 4\)/);
    await until(() => children(keeper.pid) === before, 3000).catch(() => undefined);
    expect(children(keeper.pid)).toBe(before);
  });
});

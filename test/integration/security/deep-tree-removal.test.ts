/**
 * Hole (root and rootless): the keeper's rmtree gave up below 512 nested directories (ELOOP), so a container that made
 * a deeper tree in its writable layer (`mkdir d; cd d` in a loop) left its state dir — the layer and whatever it wrote
 * at the bottom — on disk for good: the removal failed ("remove state dir …: Too many levels of symbolic links"), the
 * keeper's exit and every later keeper's sweep failed on it the same way. A container run again and again could fill
 * the disk. Past 128 levels rmtree now renames the directory to the top of the tree and removes it from there.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container, Wait } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, until, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: a container that nests directories deeply', () => {
  it('is removed whole: its state dir (writable layer) does not outlive it', async () => {
    const keeper = await Keeper.get();
    // Entries that come and go on their own: the control socket (made at the first start).
    const before = new Set([...readdirSync(keeper.stateDir), 'control.sock']);
    // 1200 levels, 100 per mkdir -p, and 1 MiB at the bottom.
    const c = await new Container(fixtureRef('busybox'))
      .withCommand(['sh', '-c', 'p=$(printf "d/%.0s" $(seq 100)); for i in $(seq 12); do mkdir -p "$p" && cd "$p" || exit 1; done; head -c 1048576 /dev/zero > bottom && echo deep; exec sleep 1000'])
      .waitFor(Wait.forLogMessage('deep')).start();
    const mine = readdirSync(keeper.stateDir).filter((n) => !before.has(n));
    expect(mine.length).toBeGreaterThan(0);
    await c.remove();
    const left = () => readdirSync(keeper.stateDir).filter((n) => !before.has(n));
    // The state dir is renamed .removing-<name> and deleted in the background: wait for that, not for a fixed time.
    await until(() => left().length === 0, 60_000).catch(() => undefined);
    expect(left()).toEqual([]);
    for (const n of mine) expect(existsSync(join(keeper.stateDir, n))).toBe(false);
  });
});

/**
 * Hole: `slipway exec` in another process reaches a container through the owner's control socket; the owner relayed
 * the exec's output to that socket with no bound, so a container writing fast to a client that stopped reading (a
 * paused terminal, a stuck pipe) made the owner, the test run, buffer all of it. The owner now disconnects a client
 * with more than MAX_QUEUED bytes queued.
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: a control client that stops reading', () => {
  it('cannot make the owner buffer an exec\'s output without bound', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const keeper = await Keeper.get();
    global.gc?.();
    const rss0 = process.memoryUsage.rss();
    const client = createConnection(join(keeper.stateDir, 'control.sock'));
    await new Promise<void>((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
    client.on('error', () => undefined);
    client.pause(); // never reads
    client.write(`${JSON.stringify({ op: 'exec', id: c.id, argv: ['head', '-c', '200000000', '/dev/zero'] })}\n`);
    let peak = 0;
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, process.memoryUsage.rss() - rss0);
    }
    client.destroy();
    // The old owner queued the base64 of all 200 MB (about 270 MB) for the client.
    expect(peak).toBeLessThan(96 << 20);
    // The container is unharmed.
    expect((await c.exec(['echo', 'ok'])).stdout.trim()).toBe('ok');
  });
});

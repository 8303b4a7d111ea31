// `slipway ps` on the engine runtime: the engine's containers of slipway sessions and of reuse are listed (before, the
// list held the native keepers' containers only, and an engine run showed nothing).
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { main } from '../../../src/cli/main.js';
import type { CliIO } from '../../../src/cli/io.js';
import { fixtureRef, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';

async function ps(...args: string[]): Promise<Record<string, unknown>[]> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  stderr.resume();
  const io: CliIO = { stdout, stderr, env: process.env, onSignal: () => () => {} };
  expect(await main(['ps', '--json', ...args], io)).toBe(0);
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: slipway ps', () => {
  it('lists this session\'s containers (owner: this process) and reused ones (lifetime reuse), not removed ones', async () => {
    const c = await new Container(fixtureRef('busybox')).withName(`ps-engine-${process.pid}`).expose(8080)
      .withCommand(['httpd', '-f', '-p', '8080', '-h', '/']).start();
    const reused = await new Container(fixtureRef('busybox')).withLabels({ test: `ps-${process.pid}` }).withCommand(['sleep', '1000']).withReuse().start();
    try {
      const listed = await ps();
      expect(listed.find((r) => r.id === c.id)).toMatchObject({
        name: `ps-engine-${process.pid}`, state: 'running', lifetime: 'process', owner: { pid: process.pid },
        ports: [{ container: 8080, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: c.getMappedPort(8080) }],
      });
      expect(listed.find((r) => r.id === reused.id)).toMatchObject({ state: 'running', lifetime: 'reuse' });
    } finally {
      await c.remove();
      await reused.remove();
    }
    const after = (await ps('-a')).map((r) => r.id);
    expect(after).not.toContain(c.id);
    expect(after).not.toContain(reused.id);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { pull, type PullOptions } from '../../../src/image/pull.js';
import { ImageStore } from '../../../src/image/store.js';
import { FakeRegistry, makeLayer, pushImage } from './helpers/fake-registry.js';

const regs: FakeRegistry[] = [];
const tmps: string[] = [];
afterEach(async () => {
  await Promise.all(regs.splice(0).map((r) => r.close()));
  await Promise.all(tmps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'slipway-resolved-'));
  tmps.push(d);
  return d;
}
const noCreds = async (): Promise<undefined> => undefined;
const layer = (text: string) => makeLayer([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', content: text }]);

describe('images resolved from the store, kept per process', () => {
  it('a tag another process moved to a new image is seen at the next lookup, not served from what was kept', async () => {
    const r = await new FakeRegistry().start();
    regs.push(r);
    const store = await tmp();
    const o: PullOptions = { storeDir: store, registry: { credentials: noCreds }, env: {} };
    const first = pushImage(r, { repo: 'x', tags: ['t'], layers: [await layer('one\n')] });
    expect((await pull(`${r.host}/x:t`, o)).digest).toBe(first.digest);
    // The second lookup reads the store and keeps it; the third is answered from what was kept.
    for (let i = 0; i < 2; i++) expect((await pull(`${r.host}/x:t`, { ...o, policy: 'never' })).digest).toBe(first.digest);
    const stamp = new ImageStore(store).generation();

    const second = pushImage(r, { repo: 'x', tags: ['t'], layers: [await layer('two\n')] });
    const script = path.join(await tmp(), 'pull-always.ts');
    await writeFile(script, `
      import { pull } from ${JSON.stringify(path.resolve('src/image/pull.ts'))};
      const img = await pull(process.argv[2]!, { storeDir: process.argv[3]!, policy: 'always', registry: { credentials: async () => undefined } });
      console.log(img.digest);
    `);
    const out = await promisify(execFile)(path.resolve('node_modules/.bin/vite-node'), [script, `${r.host}/x:t`, store], { cwd: path.resolve('.'), timeout: 60_000 });
    expect(out.stdout).toContain(second.digest);
    expect(new ImageStore(store).generation()).not.toBe(stamp);

    const now = await pull(`${r.host}/x:t`, { ...o, policy: 'never' });
    expect(now.digest).toBe(second.digest);
  }, 60_000);

  it('gives each caller its own copy', async () => {
    const r = await new FakeRegistry().start();
    regs.push(r);
    const o: PullOptions = { storeDir: await tmp(), registry: { credentials: noCreds }, env: {}, policy: 'missing' };
    pushImage(r, { repo: 'y', layers: [await layer('y\n')], config: { Env: ['A=1'] } });
    await pull(`${r.host}/y`, o);
    const a = await pull(`${r.host}/y`, o);
    a.config.Env.push('B=2');
    a.layers.pop();
    const b = await pull(`${r.host}/y`, o);
    expect(b.config.Env).toEqual(['A=1']);
    expect(b.layers).toHaveLength(1);
  });
});

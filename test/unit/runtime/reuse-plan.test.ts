import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Container, Network, Wait } from '../../../src/index.js';
import { fromWirePlan, reuseIdentity, toWirePlan } from '../../../src/runtime/reuse/reuse-plan.js';

const image = { digest: 'sha256:aa', manifestDigest: 'sha256:bb' };
const key = async (c: Container, img = image, uid = 1000) => (await reuseIdentity(toWirePlan(c.options), img, uid)).key;
const dir = mkdtempSync(join(tmpdir(), 'reuse-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reuse key', () => {
  const base = new Container('redis:7').expose(6379).withEnv({ A: '1', B: '2' }).withReuse();

  it('covers the configuration, not how to wait, pull or stop, nor the order of env calls', async () => {
    const same = new Container('redis:7').withEnv({ B: '2' }).withEnv({ A: '1' }).expose(6379).withReuse()
      .waitFor(Wait.forLogMessage('ready')).withStartupTimeout(5).withPullPolicy('always').withPullTimeout(1000);
    expect(await key(same)).toBe(await key(base));
    expect(await reuseIdentity({ ...toWirePlan(base.options), bootTimeout: 5 }, image, 1000)).toEqual(await reuseIdentity(toWirePlan(base.options), image, 1000));
  });

  it('changes with the image digest, env, command, ports, limits, labels, files, mounts and the user id', async () => {
    const k = await key(base);
    const others = [
      key(base, { ...image, digest: 'sha256:cc' }),
      key(base, { ...image, manifestDigest: 'sha256:dd' }),
      key(base.withEnv({ A: 'secret' })),
      key(base.withCommand(['redis-server', '--save', ''])),
      key(base.expose(6380)),
      key(base.withMemory('64m')),
      key(base.withLabels({ l: '1' })),
      key(base.withFile('/x', 'a')),
      key(base.withTmpfs('/data')),
      key(base.withBind('/tmp', '/host-tmp')),
      key(base, image, 1001),
    ];
    for (const o of await Promise.all(others)) expect(o).not.toBe(k);
  });

  it('a file copied from the host counts by its content, a directory by its whole tree', async () => {
    const file = join(dir, 'conf');
    writeFileSync(file, 'one');
    const c = base.withCopy(file, '/etc/conf');
    const k1 = await key(c);
    writeFileSync(file, 'two');
    expect(await key(c)).not.toBe(k1);
    writeFileSync(join(dir, 'more'), 'x');
    const d = base.withCopy(dir, '/etc/d');
    const k2 = await key(d);
    writeFileSync(join(dir, 'more'), 'y');
    expect(await key(d)).not.toBe(k2);
  });

  it('travels as JSON and back (contents as base64, relative host paths made absolute)', () => {
    const c = base.withFile('/f', Buffer.from([0, 255])).withCopy('rel', '/r');
    const wire = JSON.parse(JSON.stringify(toWirePlan(c.options, '/work'))) as ReturnType<typeof toWirePlan>;
    const back = fromWirePlan(wire);
    expect(back.files[0]!.content).toEqual(Buffer.from([0, 255]));
    expect(back.files[1]).toMatchObject({ source: '/work/rel', target: '/r' });
    expect(back.networks).toEqual([]);
  });

  it('refuses user networks and volumes: they belong to the process that made them', () => {
    const net = new Network();
    expect(() => toWirePlan(base.withVolume('data', '/data').options)).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED' }));
    const joined = { ...base.options, networks: [{ network: { name: net.name } as never, aliases: [] }] };
    expect(() => toWirePlan(joined)).toThrow(/cannot join user networks/);
  });
});

import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../src/errors.js';
import { KeeperError } from '../../src/runtime/keeper/keeper-error.js';
import { KeeperNetwork, type NetworkKeeper } from '../../src/runtime/keeper/keeper-network.js';

/** Records calls like the keeper would receive them; attach fails for container ids starting with "bad". */
function fakeKeeper() {
  const calls: string[] = [];
  const ifs = new Map<string, number>();
  const k: NetworkKeeper = {
    async createNetwork(id, index) { calls.push(`create ${id} ${index}`); },
    async removeNetwork(id) { calls.push(`remove ${id}`); },
    async attachNetwork(cid, net, ip, prefix, opts) {
      calls.push(`attach ${cid} ${net} ${ip}/${prefix} unreachable ${opts?.unreachable?.join(',')}`);
      if (cid.startsWith('bad')) throw new SlipwayError('ERR_NETWORK', 'network attach: no such container: ESRCH');
      const n = (ifs.get(cid) ?? 0) + 1;
      ifs.set(cid, n);
      return `eth${n}`;
    },
  };
  return { k, calls };
}

describe('KeeperNetwork', () => {
  it('gives each network of a keeper its own subnet and reuses freed ones', async () => {
    const { k, calls } = fakeKeeper();
    const a = await KeeperNetwork.create(k, { id: 'a' });
    const b = await KeeperNetwork.create(k, { id: 'b' });
    expect([a.subnet, b.subnet]).toEqual(['10.89.0.0/24', '10.89.1.0/24']);
    await a.remove();
    await a.remove(); // idempotent: one request
    const c = await KeeperNetwork.create(k, { id: 'c' });
    expect(c.subnetIndex).toBe(0);
    // Another keeper has its own namespaces, so its own numbering.
    const other = fakeKeeper();
    expect((await KeeperNetwork.create(other.k, { id: 'x' })).subnetIndex).toBe(0);
    expect(calls).toEqual(['create a 0', 'create b 1', 'remove a', 'create c 0']);
  });

  it('hands out addresses from .2, never twice, and frees them on detach or failure', async () => {
    const { k, calls } = fakeKeeper();
    const net = await KeeperNetwork.create(k, { id: 'n' });
    const [e1, e2] = await Promise.all([net.attach('c1'), net.attach('c2')]);
    expect([e1.ip, e2.ip].sort()).toEqual(['10.89.0.2', '10.89.0.3']);
    expect(e1).toMatchObject({ prefix: 24, ifname: 'eth1', containerId: 'c1' });
    expect(calls).toContain('attach c1 n 10.89.0.2/24 unreachable 10.89.0.0/16');
    await expect(net.attach('bad1')).rejects.toThrow(/ESRCH/);
    expect((await net.attach('c3')).ip).toBe('10.89.0.4'); // the failed attach did not keep .4
    net.detach('c1');
    expect((await net.attach('c4')).ip).toBe(e1.ip);
    await expect(net.attach('c4')).rejects.toThrow(/already|not yet on network/);
    expect([...net.endpoints.keys()].sort()).toEqual(['c2', 'c3', 'c4']);
  });

  it('refuses bad ids, attaching to a removed network, and a full network', async () => {
    const { k } = fakeKeeper();
    await expect(KeeperNetwork.create(k, { id: 'bad id' })).rejects.toThrow(/invalid id/);
    const net = await KeeperNetwork.create(k, { id: 'full' });
    for (let i = 0; i < 253; i++) await net.attach(`c${i}`);
    await expect(net.attach('one-more')).rejects.toThrow(/is full/);
    await net.remove();
    await expect(net.attach('late')).rejects.toThrow(/was removed/);
  });

  it('skips subnet indexes the keeper reports in use', async () => {
    const { k, calls } = fakeKeeper();
    const busy: NetworkKeeper = { ...k, createNetwork: async (id, i) => {
      if (i < 2) throw new KeeperError('ERR_NETWORK', 'subnet-in-use', 'network create: reworded', 17, 'File exists', undefined);
      return k.createNetwork(id, i);
    } };
    expect((await KeeperNetwork.create(busy, { id: 's' })).subnetIndex).toBe(2);
    expect(calls).toEqual(['create s 2']);
  });

  it('releases the subnet when the keeper refuses to create the network', async () => {
    const { k } = fakeKeeper();
    let fail = true;
    const flaky: NetworkKeeper = { ...k, createNetwork: async (id, i) => { if (fail) throw new Error('nope'); return k.createNetwork(id, i); } };
    await expect(KeeperNetwork.create(flaky, { id: 'f' })).rejects.toThrow('nope');
    fail = false;
    expect((await KeeperNetwork.create(flaky, { id: 'g' })).subnetIndex).toBe(0);
  });
});

import { Etcd3 } from 'etcd3';
import { expect, it } from 'vitest';
import { EtcdContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('etcd module', () => {
  it('etcd3 puts, reads, watches and deletes a key through getClientEndpoint()', async () => {
    await using etcd = await new EtcdContainer(fixtureRef('etcd')).withNodeName('node-a').start();
    expect(etcd.getClientEndpoint()).toBe(`http://${etcd.getHost()}:${etcd.getPort()}`);
    const client = new Etcd3({ hosts: etcd.getClientEndpoint() });
    try {
      await client.put('config/color').value('blue');
      expect(await client.get('config/color').string()).toBe('blue');
      const watcher = await client.watch().key('config/color').create();
      const changed = new Promise<string>((resolve) => watcher.on('put', (kv) => resolve(kv.value.toString())));
      await client.put('config/color').value('green');
      expect(await changed).toBe('green');
      await watcher.cancel();
      await client.delete().key('config/color');
      expect(await client.get('config/color').string()).toBeNull();
      const members = await client.cluster.memberList({});
      expect(members.members.map((m) => m.name)).toEqual(['node-a']);
    } finally {
      client.close();
    }
  });

  it('slipway/testcontainers: EtcdContainer(image, nodeName) as testcontainers constructs it', async () => {
    await using etcd = await new tc.EtcdContainer(fixtureRef('etcd'), 'node-b').start();
    const client = new Etcd3({ hosts: etcd.getClientEndpoint() });
    try {
      await client.put('k').value('v');
      expect(await client.get('k').string()).toBe('v');
      expect((await client.cluster.memberList({})).members.map((m) => m.name)).toEqual(['node-b']);
    } finally {
      client.close();
    }
  });
});

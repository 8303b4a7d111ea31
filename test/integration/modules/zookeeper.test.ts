import zookeeper from 'node-zookeeper-client';
import { expect, it } from 'vitest';
import { ZooKeeperContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** A connected node-zookeeper-client with promise helpers. */
async function connect(connectionString: string) {
  const client = zookeeper.createClient(connectionString, { sessionTimeout: 4000, spinDelay: 200, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ZooKeeper session with ${connectionString}`)), 20_000);
    client.once('connected', () => { clearTimeout(timer); resolve(); });
    client.connect();
  });
  const call = <T>(fn: (cb: (err: Error | zookeeper.Exception | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
  return {
    create: (path: string, data: string, mode = zookeeper.CreateMode.PERSISTENT) =>
      call<string>((cb) => client.create(path, Buffer.from(data), mode, cb)),
    get: (path: string) => call<Buffer>((cb) => client.getData(path, (err, data) => cb(err, data))),
    exists: async (path: string) => (await call<zookeeper.Stat | null>((cb) => client.exists(path, (err, stat) => cb(err, stat)))) !== null,
    children: (path: string) => call<string[]>((cb) => client.getChildren(path, (err, children) => cb(err, children))),
    close: () => new Promise<void>((resolve) => { client.once('disconnected', () => resolve()); client.close(); }),
  };
}

/** A four-letter word asked inside the container (bash /dev/tcp: the image has no nc). */
const fourLetters = (word: string) => ['timeout', '10', 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/2181 && printf ${word} >&3 && cat <&3`];

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('ZooKeeper module', () => {
  it('node-zookeeper-client: znodes round trip; an ephemeral node goes with its session, a persistent one stays', async () => {
    await using zk = await new ZooKeeperContainer(fixtureRef('zookeeper')).start();
    expect(zk.getConnectionString()).toBe(`${zk.getHost()}:${zk.getPort()}`);
    const a = await connect(zk.getConnectionString());
    try {
      await a.create('/app', 'config v1');
      await a.create('/app/lock', 'held by a', zookeeper.CreateMode.EPHEMERAL);
      expect((await a.get('/app')).toString()).toBe('config v1');
      expect(await a.children('/app')).toEqual(['lock']);
    } finally {
      await a.close();
    }
    const b = await connect(zk.getConnectionString());
    try {
      expect(await b.exists('/app/lock')).toBe(false);
      expect((await b.get('/app')).toString()).toBe('config v1');
    } finally {
      await b.close();
    }
  });

  it('the official image\'s conventions: zoo.cfg from ZOO_* variables, myid, the server as zookeeper, standalone', async () => {
    await using zk = await new ZooKeeperContainer(fixtureRef('zookeeper'))
      .withEnv({ ZOO_TICK_TIME: '500', ZOO_MY_ID: '7', ZOO_SERVERS: 'server.7=localhost:2888:3888;2181', ZOO_4LW_COMMANDS_WHITELIST: 'srvr,ruok' }).start();
    const cfg = (await zk.exec(['cat', '/conf/zoo.cfg'])).stdout;
    expect(cfg).toContain('tickTime=500');
    expect(cfg).toContain('dataDir=/data');
    expect(cfg).toContain('4lw.commands.whitelist=srvr,ruok');
    expect(cfg).toContain('server.7=localhost:2888:3888;2181');
    expect((await zk.exec(['cat', '/data/myid'])).stdout.trim()).toBe('7');
    const owner = await zk.exec(['bash', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " <$p/cmdline 2>/dev/null | grep -q "^/usr/bin/java .*QuorumPeerMain" && stat -c %U $p; done']);
    expect(owner.stdout.trim()).toBe('zookeeper');
    expect((await zk.exec(fourLetters('ruok'))).stdout).toBe('imok');
    expect((await zk.exec(fourLetters('srvr'))).stdout).toMatch(/^Mode: standalone$/m);
  });

  it('slipway/testcontainers: statement-style configuration sticks, and the data survives restart()', async () => {
    const builder = new tc.ZooKeeperContainer(fixtureRef('zookeeper'));
    expect(builder).toBeInstanceOf(tc.GenericContainer);
    builder.withEnvironment({ ZOO_TICK_TIME: '400' });
    await using zk = await builder.start();
    expect((await zk.exec(['cat', '/conf/zoo.cfg'])).stdout).toContain('tickTime=400');
    const a = await connect(zk.getConnectionString());
    try {
      await a.create('/kept', 'across restart');
    } finally {
      await a.close();
    }
    await zk.restart();
    const b = await connect(zk.getConnectionString());
    try {
      expect((await b.get('/kept')).toString()).toBe('across restart');
    } finally {
      await b.close();
    }
  });
});

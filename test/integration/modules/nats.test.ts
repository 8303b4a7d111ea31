import { connect, StringCodec } from 'nats';
import { expect, it } from 'vitest';
import { NatsContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('NATS module', () => {
  it('nats connects with getConnectionOptions(), publishes and receives on a subject; wrong credentials are refused', async () => {
    await using n = await new NatsContainer(fixtureRef('nats')).withUsername('alice').withPass('s3cret').start();
    expect(n.getConnectionOptions()).toEqual({ servers: `${n.getHost()}:${n.getPort()}`, user: 'alice', pass: 's3cret' });
    const nc = await connect(n.getConnectionOptions());
    try {
      const sc = StringCodec();
      const sub = nc.subscribe('greetings', { max: 1 });
      nc.publish('greetings', sc.encode('hello over nats'));
      for await (const m of sub) expect(sc.decode(m.data)).toBe('hello over nats');
      // Request/reply round trip through the server.
      nc.subscribe('echo', { callback: (_e, m) => m.respond(m.data) });
      expect(sc.decode((await nc.request('echo', sc.encode('ping'), { timeout: 5000 })).data)).toBe('ping');
    } finally {
      await nc.close();
    }
    await expect(connect({ ...n.getConnectionOptions(), pass: 'wrong', reconnect: false })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
  });

  it('withJetStream() enables JetStream; the monitoring port answers /varz', async () => {
    await using n = await new NatsContainer(fixtureRef('nats')).withJetStream().start();
    const nc = await connect(n.getConnectionOptions());
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'orders', subjects: ['orders.*'] });
      await nc.jetstream().publish('orders.new', StringCodec().encode('1'));
      expect((await jsm.streams.info('orders')).state.messages).toBe(1);
    } finally {
      await nc.close();
    }
    const varz = await (await fetch(`http://${n.getHost()}:${n.getMappedPort(8222)}/varz`)).json() as { port: number };
    expect(varz.port).toBe(4222);
  });

  it('slipway/testcontainers: statement-style NatsContainer credentials reach the server', async () => {
    const builder = new tc.NatsContainer(fixtureRef('nats'));
    builder.withUsername('svc');
    builder.withPass('pw');
    await using n = await builder.start();
    expect(n.getConnectionOptions()).toMatchObject({ user: 'svc', pass: 'pw' });
    const nc = await connect(n.getConnectionOptions());
    await nc.flush();
    await nc.close();
    await expect(connect({ ...n.getConnectionOptions(), user: 'test', pass: 'test', reconnect: false })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
  });
});

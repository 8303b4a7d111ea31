import amqp from 'amqplib';
import { expect, it } from 'vitest';
import { RabbitMQContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('RabbitMQ module', () => {
  it('amqplib connects with getAmqpUrl() as the configured user and round-trips a message through a queue; the management API answers', async () => {
    await using mq = await new RabbitMQContainer(fixtureRef('rabbitmq')).withUsername('alice').withPassword('s3cret:/@').start();
    const url = new URL(mq.getAmqpUrl());
    expect([url.protocol, url.hostname, decodeURIComponent(url.username), decodeURIComponent(url.password)])
      .toEqual(['amqp:', mq.getHost(), 'alice', 's3cret:/@']);
    const conn = await amqp.connect(mq.getAmqpUrl());
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('jobs', { durable: false });
      ch.sendToQueue('jobs', Buffer.from('resize image 42'));
      const msg = await new Promise<amqp.ConsumeMessage>((resolve) => void ch.consume('jobs', (m) => m && resolve(m), { noAck: true }));
      expect(msg.content.toString()).toBe('resize image 42');
      await ch.close();
    } finally {
      await conn.close();
    }
    await expect(amqp.connect(mq.getAmqpUrl().replace(encodeURIComponent('s3cret:/@'), 'wrong'))).rejects.toThrow(/ACCESS_REFUSED|403/);

    const auth = `Basic ${Buffer.from('alice:s3cret:/@').toString('base64')}`;
    const overview = await fetch(`${mq.getManagementUrl()}/api/overview`, { headers: { authorization: auth } });
    expect(overview.status).toBe(200);
    expect((await overview.json() as { rabbitmq_version: string }).rabbitmq_version).toMatch(/^3\./);
  });

  it('slipway/testcontainers: credentials set with withEnvironment (as testcontainers\' own test does) are the broker\'s', async () => {
    const builder = new tc.RabbitMQContainer(fixtureRef('rabbitmq'));
    builder.withEnvironment({ RABBITMQ_DEFAULT_USER: 'team', RABBITMQ_DEFAULT_PASS: 'topsecret' });
    await using mq = await builder.start();
    const url = new URL(mq.getAmqpUrl());
    expect(url.href).toBe(`amqp://${mq.getHost()}:${mq.getMappedPort(5672)}`);
    url.username = 'team';
    url.password = 'topsecret';
    const conn = await amqp.connect(url.href);
    await conn.close();
    expect(() => mq.getAmqpsUrl()).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED' }));
    url.username = 'guest';
    url.password = 'guest';
    await expect(amqp.connect(url.href)).rejects.toThrow(/ACCESS_REFUSED|403/);
  });
});

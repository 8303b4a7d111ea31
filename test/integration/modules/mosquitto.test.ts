import mqtt from 'mqtt';
import { expect, it } from 'vitest';
import { MosquittoContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('Mosquitto module', () => {
  it('mqtt connects with getConnectionUrl(), and a QoS 1 publish reaches a second client subscribed to the topic', async () => {
    await using broker = await new MosquittoContainer(fixtureRef('mosquitto')).start();
    expect(broker.getConnectionUrl()).toBe(`mqtt://${broker.getHost()}:${broker.getPort()}`);
    const sub = await mqtt.connectAsync(broker.getConnectionUrl(), { reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(broker.getConnectionUrl(), { reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync('sensors/+/temp', { qos: 1 });
      const received = new Promise<[string, string]>((resolve) => sub.on('message', (t, p) => resolve([t, p.toString()])));
      await pub.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1 });
      expect(await received).toEqual(['sensors/kitchen/temp', '21.5']);
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  });

  it('a config of your own replaces the module one: anonymous clients refused there', async () => {
    await using broker = await new MosquittoContainer(fixtureRef('mosquitto'))
      .with((c) => c.withFile('/mosquitto/config/mosquitto.conf', 'listener 1883\nallow_anonymous false\npassword_file /dev/null\nlog_dest stderr\n')).start();
    await expect(mqtt.connectAsync(broker.getConnectionUrl(), { reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username or password/);
  });

  it('slipway/testcontainers: MosquittoContainer with a statement-style config of your own', async () => {
    const builder = new tc.MosquittoContainer(fixtureRef('mosquitto'));
    builder.withCopyContentToContainer([{ content: 'listener 1883\nallow_anonymous false\npassword_file /dev/null\nlog_dest stderr\n', target: '/mosquitto/config/mosquitto.conf' }]);
    await using broker = await builder.start();
    await expect(mqtt.connectAsync(broker.getConnectionUrl(), { reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username or password/);
    await using open = await new tc.MosquittoContainer(fixtureRef('mosquitto')).start();
    const client = await mqtt.connectAsync(open.getConnectionUrl(), { reconnectPeriod: 0 });
    await client.endAsync();
  });
});

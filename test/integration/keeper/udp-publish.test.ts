import { createSocket, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, skipReason, specFor, toolsLayer } from './fixture.js';

const skip = skipReason();

/** A UDP client bound to an ephemeral loopback port. */
async function client(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  return s;
}

/** Sends until a reply arrives (the server may not be up yet); resolves the reply text. */
function ask(s: Socket, port: number, msg: string, tries = 40): Promise<string> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const send = (): void => {
      if (n++ >= tries) {
        s.off('message', onMsg);
        reject(new Error(`no UDP reply to ${msg}`));
        return;
      }
      s.send(msg, port, '127.0.0.1');
      timer = setTimeout(send, 100);
    };
    const onMsg = (b: Buffer): void => {
      if (!b.toString().endsWith(`:${msg}`)) return; // a late reply to an earlier retry
      clearTimeout(timer);
      s.off('message', onMsg);
      resolve(b.toString());
    };
    let timer: NodeJS.Timeout;
    s.on('message', onMsg);
    send();
  });
}

describe.skipIf(skip)('keeper: UDP port publishing', () => {
  let keeper: Keeper;
  const saved = { idle: process.env.SLIPWAY_UDP_FLOW_IDLE_MS, max: process.env.SLIPWAY_UDP_MAX_FLOWS };
  beforeAll(async () => {
    busyboxRootfs();
    toolsLayer();
    // Read by the keeper at start: short idle timeout, two flows per port.
    process.env.SLIPWAY_UDP_FLOW_IDLE_MS = '400';
    process.env.SLIPWAY_UDP_MAX_FLOWS = '2';
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    for (const [k, v] of [['SLIPWAY_UDP_FLOW_IDLE_MS', saved.idle], ['SLIPWAY_UDP_MAX_FLOWS', saved.max]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await keeper?.close();
  });

  it('relays datagrams both ways, one flow per client, flows expire when idle', async () => {
    const fds = (): number => readdirSync(`/proc/${keeper.pid}/fd`).length;
    // A round trip first: right after start the keeper compiles its seccomp profile with a memfd open.
    await keeper.unpublish(0);
    const fdsBefore = fds();
    const spec = specFor(keeper, ['/bin/udp-echo', '5353'], { netMode: 'isolated', lowerDirs: [toolsLayer(), busyboxRootfs()] });
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'udp', containerPort: 5353 });
    expect(port).toBeGreaterThan(0);
    await keeper.startContainer(spec.id);
    const a = await client();
    const b = await client();
    try {
      const ra = await ask(a, port, 'from-a');
      const rb = await ask(b, port, 'from-b');
      const pa = ra.split(':')[0]!;
      const pb = rb.split(':')[0]!;
      // Each client got its own reply, through its own in-container socket.
      expect(ra).toBe(`${pa}:from-a`);
      expect(rb).toBe(`${pb}:from-b`);
      expect(pa).not.toBe(pb);
      // The same client keeps its flow while it is active...
      expect((await ask(a, port, 'again-a')).split(':')[0]).toBe(pa);
      // ...and large datagrams pass whole.
      const big = 'x'.repeat(60000);
      expect(await ask(a, port, big)).toBe(`${pa}:${big}`);
      // After the idle timeout the flow is gone: a new in-container socket (new source port).
      await new Promise((r) => setTimeout(r, 1200));
      expect((await ask(a, port, 'later-a')).split(':')[0]).not.toBe(pa);
    } finally {
      a.close();
      b.close();
    }
    await keeper.removeContainer(spec.id);
    // The host socket and every flow socket are closed with the container.
    expect(fds()).toBe(fdsBefore);
  });

  it('drops the least recently used flow when a port has the maximum number of flows', async () => {
    const spec = specFor(keeper, ['/bin/udp-echo', '5353'], { netMode: 'isolated', lowerDirs: [toolsLayer(), busyboxRootfs()] });
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'udp', containerPort: 5353 });
    await keeper.startContainer(spec.id);
    const [a, b, c] = [await client(), await client(), await client()];
    try {
      const pa = (await ask(a, port, 'a1')).split(':')[0];
      const pb = (await ask(b, port, 'b1')).split(':')[0];
      expect((await ask(a, port, 'a2')).split(':')[0]).toBe(pa); // b is now the least recently used
      await ask(c, port, 'c1'); // third flow: b's is dropped
      expect((await ask(a, port, 'a3')).split(':')[0]).toBe(pa);
      expect((await ask(b, port, 'b2')).split(':')[0]).not.toBe(pb);
    } finally {
      for (const s of [a, b, c]) s.close();
    }
    await keeper.removeContainer(spec.id);
  });

  it('refuses a busy UDP host port, and TCP and UDP can share a port number', async () => {
    const spec = specFor(keeper, ['sleep', '100'], { netMode: 'isolated' });
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'udp', containerPort: 53 });
    await expect(keeper.publish(spec.id, { protocol: 'udp', containerPort: 54, hostPort: port })).rejects.toThrow(/publish: bind udp 127.0.0.1:\d+: EADDRINUSE/);
    expect(await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 53, hostPort: port })).toBe(port);
    await keeper.removeContainer(spec.id);
  });
});

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, skipReason, specFor } from './fixture.js';

const skip = skipReason();

/** Connects, sends `send`, half-closes, and collects everything until the server closes. */
function roundTrip(port: number, send: Buffer): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.end(send));
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error: e.code }));
    s.on('close', () => resolve({ data: Buffer.concat(chunks) }));
  });
}

describe.skipIf(skip)('keeper: port publishing', () => {
  let keeper: Keeper;
  beforeAll(async () => {
    busyboxRootfs();
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    await keeper?.close();
  });

  it('forwards a host port to a port inside the container network namespace', async () => {
    // busybox nc in the container: an echo server that upper-cases.
    const spec = specFor(keeper, ['/bin/sh', '-c', 'while true; do nc -l -p 8080 -e /bin/sh -c "tr a-z A-Z"; done'], { netMode: 'isolated' });
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 8080 });
    expect(port).toBeGreaterThan(0);
    // Not started yet: nothing listens inside, so the connection is reset promptly.
    const early = await roundTrip(port, Buffer.from('x'));
    expect(early.data.length).toBe(0);
    await keeper.startContainer(spec.id);
    // The server restarts nc between connections: retry until it listens again.
    const retry = async (send: Buffer) => {
      let r = { data: Buffer.alloc(0) } as { data: Buffer; error?: string };
      for (let i = 0; i < 50 && r.data.length === 0; i++) {
        r = await roundTrip(port, send);
        if (r.data.length === 0) await new Promise((res) => setTimeout(res, 50));
      }
      return r;
    };
    expect((await retry(Buffer.from('hello keeper\n'))).data.toString()).toBe('HELLO KEEPER\n');
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const rb = await retry(big);
    expect(rb.data.length).toBe(big.length);
    expect(rb.data.every((c) => c === 'A'.charCodeAt(0))).toBe(true);
    await keeper.removeContainer(spec.id);
    const after = await roundTrip(port, Buffer.from('x'));
    expect(after.error).toBe('ECONNREFUSED');
  });

  it('rejects an unknown protocol and a busy host port with clear errors', async () => {
    const spec = specFor(keeper, ['sleep', '100']);
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 80 });
    await expect(keeper.publish(spec.id, { protocol: 'tcp', containerPort: 81, hostPort: port })).rejects.toThrow(/publish: bind tcp 127.0.0.1:\d+: EADDRINUSE/);
    await expect(keeper.publish(spec.id, { protocol: 'sctp' as 'tcp', containerPort: 53 })).rejects.toThrow(/unknown port protocol sctp/);
    await keeper.removeContainer(spec.id);
  });
});

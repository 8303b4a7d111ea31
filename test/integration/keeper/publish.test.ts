import { execFileSync } from 'node:child_process';
import { get } from 'node:http';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
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

  it('relays many concurrent connections in full, survives clients that reset mid-transfer, and keeps no socket of a closed connection', async () => {
    const spec = specFor(keeper, ['/bin/sh', '-c', 'mkdir -p /www && dd if=/dev/zero bs=1024 count=512 2>/dev/null | tr "\\0" z > /www/f && exec httpd -f -p 8080 -h /www'], { netMode: 'isolated' });
    const sockets = (): number => readdirSync(`/proc/${keeper.pid}/fd`).filter((f) => {
      try { return readlinkSync(`/proc/${keeper.pid}/fd/${f}`).startsWith('socket:'); } catch { return false; }
    }).length;
    const before = sockets();
    await keeper.createContainer(spec);
    const port = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 8080 });
    await keeper.startContainer(spec.id);
    const fetch = (abortAfter?: number): Promise<number> => new Promise((resolve) => {
      const req = get({ host: '127.0.0.1', port, path: '/f', agent: false }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => {
          n += d.length;
          if (abortAfter !== undefined && n >= abortAfter) req.destroy();
        });
        res.on('end', () => resolve(n));
        res.on('error', () => resolve(-1));
        res.on('close', () => resolve(n));
      });
      req.on('error', () => resolve(-1));
    });
    for (let i = 0; i < 100 && (await fetch()) !== 512 * 1024; i++) await new Promise((r) => setTimeout(r, 50));
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(i % 4 === 3 ? 1024 : undefined)));
    const full = results.filter((_, i) => i % 4 !== 3);
    expect(full).toEqual(full.map(() => 512 * 1024));
    expect(await fetch()).toBe(512 * 1024); // the aborted ones broke nothing
    // Closed connections leave nothing: the listener, init's control socket and at most a pool of 8
    // idle container sockets (the pool refills to 8 once it is down to 4, so 8 is reached: seen under ASan).
    // Up to 10 s (it ends as soon as they are closed): 2 s was tight for a loaded CI machine.
    let now = sockets();
    for (let i = 0; i < 200 && now > before + 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      now = sockets();
    }
    expect(now).toBeLessThanOrEqual(before + 10);
    await keeper.removeContainer(spec.id);
    expect(sockets()).toBe(before);
  });

  it('relays loopback clients with Reno (no pacing), on a loopback and on a 0.0.0.0 listener', async () => {
    // The congestion control of the keeper's accepted socket, as `ss` (sock_diag) reports it.
    const ccOf = (port: number): string | undefined =>
      /\s([a-z0-9_]+)\s+wscale:/.exec(execFileSync('ss', ['-tniH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }))?.[1];
    const spec = specFor(keeper, ['/bin/sh', '-c', 'while true; do nc -l -p 8080 -e cat; done'], { netMode: 'isolated' });
    await keeper.createContainer(spec);
    const onLoopback = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 8080 });
    const onAll = await keeper.publish(spec.id, { protocol: 'tcp', hostIp: '0.0.0.0', containerPort: 8080 });
    await keeper.startContainer(spec.id);
    // An echoed byte: the connection reached nc inside, so both relay sockets exist.
    const open = async (host: string, port: number): Promise<Socket> => {
      for (let i = 0; ; i++) {
        const s = connect(port, host);
        const ok = await new Promise<boolean>((resolve) => {
          s.once('connect', () => s.write('x'));
          s.once('data', () => resolve(true));
          s.once('error', () => resolve(false));
          s.once('close', () => resolve(false));
        });
        if (ok) return s;
        s.destroy();
        if (i > 100) throw new Error(`no echo through ${host}:${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const closed = (s: Socket) => new Promise((r) => { s.once('close', r); s.destroy(); });
    let s = await open('127.0.0.1', onLoopback);
    expect(ccOf(onLoopback)).toBe('reno');
    await closed(s);
    s = await open('127.0.0.1', onAll); // 0.0.0.0: chosen per connection, by the client's address
    expect(ccOf(onAll)).toBe('reno');
    await closed(s);
    // A client from a non-loopback address keeps the host's default (forward.c); not exercised here: the network
    // rule lets tests connect only to loopback or to namespaces they made, and the host's own address is neither.
    await keeper.removeContainer(spec.id);
  });

  it('passes on a greeting the server sends and ends at once (small, and past the 64 KiB copy buffer), and resets a refused connection that sent nothing', async () => {
    // The greeting's bytes and its FIN often come in one event: the relay copies them and passes the end on in the
    // same turn (forward.c dir_copy); past 64 KiB it turns to splicing. Every byte and a clean end must come out.
    const spec = specFor(keeper, ['/bin/sh', '-c',
      `while true; do nc -l -p 8081 -e sh -c "printf hi"; done & while true; do nc -l -p 8082 -e sh -c "head -c 200000 /dev/zero | tr '\\0' g"; done`], { netMode: 'isolated' });
    await keeper.createContainer(spec);
    const small = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 8081 });
    const large = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 8082 });
    const none = await keeper.publish(spec.id, { protocol: 'tcp', containerPort: 8083 });
    await keeper.startContainer(spec.id);
    /** Connects, sends nothing, and collects everything until the server's end. */
    const greeting = (port: number): Promise<{ data: Buffer; error?: string }> => new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const s = connect(port, '127.0.0.1');
      s.on('data', (d) => chunks.push(d));
      s.on('error', (e: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error: e.code }));
      s.on('end', () => { s.end(); resolve({ data: Buffer.concat(chunks) }); });
    });
    // nc starts again between connections: one that finds nothing listening is reset with no byte; retry those.
    const greet = async (port: number) => {
      for (let i = 0; ; i++) {
        const r = await greeting(port);
        if (r.data.length > 0 || i > 100) return r;
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    for (let i = 0; i < 5; i++) {
      expect(await greet(small)).toEqual({ data: Buffer.from('hi') });
      const r = await greet(large);
      expect(r.error).toBeUndefined();
      expect(r.data.length).toBe(200000);
      expect(r.data.every((c) => c === 'g'.charCodeAt(0))).toBe(true);
    }
    expect(await greeting(none)).toEqual({ data: Buffer.alloc(0), error: 'ECONNRESET' });
    await keeper.removeContainer(spec.id);
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

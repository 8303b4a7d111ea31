import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { KeeperNetwork } from '../../../src/runtime/keeper/keeper-network.js';
import { startOutbound } from '../../../src/runtime/network/start-outbound.js';
import { busyboxRootfs, childrenOf, processGone, skipReason, specFor } from './fixture.js';

const skip = skipReason();

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Waits until `pred` holds (polling), or fails with `what`. */
async function until(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(skip)('keeper: user networks', () => {
  let keeper: Keeper;
  beforeAll(async () => {
    busyboxRootfs();
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    await keeper?.close();
  });

  /** Creates and starts a container attached to `net` with `ip`; returns its id. */
  async function onNetwork(net: string, ip: string, argv: string[]): Promise<{ id: string; pid: number; ifname: string }> {
    const spec = specFor(keeper, argv, { netMode: 'isolated' });
    const { pid } = await keeper.createContainer(spec);
    const ifname = await keeper.attachNetwork(spec.id, net, ip, 24);
    await keeper.startContainer(spec.id);
    return { id: spec.id, pid, ifname };
  }


  it('connects containers on one network and isolates other networks; leaves no fds or processes', async () => {
    // A round trip first: right after start the keeper compiles its seccomp profile with a memfd open.
    await keeper.unpublish(0);
    const fdsBefore = fdCount(keeper.pid);
    const kidsBefore = childrenOf(keeper.pid).length;
    const n1 = `n1-${process.pid}`;
    const n2 = `n2-${process.pid}`;
    await keeper.createNetwork(n1, 201);
    await keeper.createNetwork(n2, 202);
    expect(fdCount(keeper.pid)).toBe(fdsBefore + 2); // one namespace fd per network

    const server = await onNetwork(n1, '10.89.201.2', ['/bin/sh', '-c', 'while true; do nc -l -p 5432 -e echo hello-from-a; done']);
    expect(server.ifname).toBe('eth1');

    // B, on the same network, reaches A on A's own port.
    const probe = 'ip -4 addr show eth1 | grep -o "inet [0-9./]*"; ip route; for i in $(seq 50); do nc -w 2 10.89.201.2 5432 </dev/null && exit 0; sleep 0.1; done; exit 1';
    const b = specFor(keeper, ['/bin/sh', '-c', probe], { netMode: 'isolated' });
    await keeper.createContainer(b);
    await keeper.attachNetwork(b.id, n1, '10.89.201.3', 24);
    await keeper.startContainer(b.id);
    expect(await keeper.waitContainer(b.id)).toEqual({ exitCode: 0, signal: null });
    const bLog = await logOf(b.logPath!);
    expect(bLog).toContain('inet 10.89.201.3/24');
    expect(bLog).toMatch(/10\.89\.201\.0\/24 dev eth1 .*src 10\.89\.201\.3/);
    expect(bLog).toContain('hello-from-a');
    await keeper.removeContainer(b.id);

    // C, on another network, cannot reach A, even with an address in A's subnet (so a route
    // exists): the networks share no link at all.
    const c = specFor(keeper, ['/bin/sh', '-c', 'nc -w 2 10.89.201.2 5432 </dev/null; echo "nc exit $?"'], { netMode: 'isolated' });
    await keeper.createContainer(c);
    await keeper.attachNetwork(c.id, n2, '10.89.201.9', 24);
    await keeper.startContainer(c.id);
    await keeper.waitContainer(c.id);
    const cLog = await logOf(c.logPath!);
    expect(cLog).not.toContain('hello-from-a');
    expect(cLog).toMatch(/nc exit [1-9]/);
    await keeper.removeContainer(c.id);

    // Removing the network destroys its namespace (the keeper held the only reference): the
    // running server loses its eth1 with it.
    await keeper.removeNetwork(n1);
    const links = async (): Promise<string> => {
      let out = '';
      await keeper.exec(server.id, { argv: ['ls', '/sys/class/net'], env: [], uid: 0, gid: 0 }, { onStdout: (d) => { out += d.toString(); } });
      return out;
    };
    let seen = await links();
    for (let i = 0; i < 100 && seen.includes('eth1'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await links();
    }
    expect(seen.split(/\s+/).filter(Boolean).sort()).toEqual(['lo']);
    await keeper.removeContainer(server.id);
    await keeper.removeNetwork(n2);
    await keeper.removeNetwork(n2); // idempotent
    await until('the keeper to reap its children', () => childrenOf(keeper.pid).length === kidsBefore);
    expect(fdCount(keeper.pid)).toBe(fdsBefore);
    expect(processGone(server.pid)).toBe(true);
  });

  it('coexists with the outbound interface (eth0 default route, eth1 connected route)', async () => {
    const net = `nout-${process.pid}`;
    await keeper.createNetwork(net, 203);
    const a = await onNetwork(net, '10.89.203.2', ['/bin/sh', '-c', 'while true; do nc -l -p 5432 -e echo hello-again; done']);
    const spec = specFor(keeper, ['/bin/sh', '-c', 'until ip link show eth0 >/dev/null 2>&1; do sleep 0.05; done; ip route; ip route get 10.89.1.2 2>&1; ip route get 10.89.203.7; for i in $(seq 50); do nc -w 2 10.89.203.2 5432 </dev/null && exit 0; sleep 0.1; done; exit 1'], { netMode: 'isolated' });
    const { pid } = await keeper.createContainer(spec);
    await keeper.attachNetwork(spec.id, net, '10.89.203.3', 24, { unreachable: ['10.89.0.0/16'] });
    // Outbound as the runtime does it (slirp4netns or pasta); no traffic is sent through it here.
    const out = await startOutbound(pid, { hostLoopback: false });
    if (!out) {
      console.warn('neither slirp4netns nor pasta installed: coexistence not checked');
      await keeper.removeContainer(spec.id);
    } else {
      try {
        await keeper.startContainer(spec.id);
        expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: 0, signal: null });
        const log = await logOf(spec.logPath!);
        expect(log).toMatch(/default via 10\.0\.2\.2 dev eth0/);
        expect(log).toMatch(/10\.89\.203\.0\/24 dev eth1/);
        // Another network's address is refused inside, never sent out through eth0 (no packet is
        // sent: `ip route get` only asks the routing table).
        expect(log).toMatch(/unreachable 10\.89\.0\.0\/16/);
        expect(log).not.toMatch(/10\.89\.1\.2 via 10\.0\.2\.2/);
        expect(log).toContain('No route to host');
        expect(log).toMatch(/10\.89\.203\.7 dev eth1/);
        expect(log).toContain('hello-again');
      } finally {
        await out.close();
        await keeper.removeContainer(spec.id);
      }
    }
    await keeper.removeContainer(a.id);
    await keeper.removeNetwork(net);
  });

  it('KeeperNetwork: reach a container by an alias from /etc/hosts, updated in place for late joiners', async () => {
    const net = await KeeperNetwork.create(keeper);
    const dbSpec = specFor(keeper, ['/bin/sh', '-c', 'while true; do nc -l -p 5432 -e echo hello-db; done'], { netMode: 'isolated' });
    dbSpec.etcFiles = { hosts: join(dbSpec.stateDir, 'etc', 'hosts') };
    writeFileSync(dbSpec.etcFiles.hosts!, '127.0.0.1 localhost\n');
    await keeper.createContainer(dbSpec);
    const db = await net.attach(dbSpec.id);
    expect(db.ip).toBe(`10.89.${net.subnetIndex}.2`);
    await keeper.startContainer(dbSpec.id);

    const client = specFor(keeper, ['/bin/sh', '-c', 'for i in $(seq 50); do nc -w 2 db 5432 </dev/null && exit 0; sleep 0.1; done; exit 1'], { netMode: 'isolated' });
    client.etcFiles = { hosts: join(client.stateDir, 'etc', 'hosts') };
    await keeper.createContainer(client);
    const cl = await net.attach(client.id);
    writeFileSync(client.etcFiles.hosts!, `127.0.0.1 localhost\n${db.ip} ${dbSpec.id} db\n`);
    // The db container learns the late joiner's name: the bound file is rewritten in place (same
    // inode; a rename would leave the container looking at the old file).
    const ino = statSync(dbSpec.etcFiles.hosts!).ino;
    writeFileSync(dbSpec.etcFiles.hosts!, `127.0.0.1 localhost\n${cl.ip} ${client.id} app\n`);
    expect(statSync(dbSpec.etcFiles.hosts!).ino).toBe(ino);
    await keeper.startContainer(client.id);
    expect(await keeper.waitContainer(client.id)).toEqual({ exitCode: 0, signal: null });
    expect(await logOf(client.logPath!)).toContain('hello-db');
    let hosts = '';
    await keeper.exec(dbSpec.id, { argv: ['cat', '/etc/hosts'], env: [], uid: 0, gid: 0 }, { onStdout: (d) => { hosts += d.toString(); } });
    expect(hosts).toContain(`${cl.ip} ${client.id} app`);
    for (const id of [client.id, dbSpec.id]) {
      await keeper.removeContainer(id);
      net.detach(id);
    }
    await net.remove();
  });

  it('refuses bad requests with clear errors', async () => {
    const net = `nbad-${process.pid}`;
    await keeper.createNetwork(net, 204);
    await expect(keeper.createNetwork(net, 205)).rejects.toThrow(/network id in use: EEXIST/);
    await expect(keeper.createNetwork(`${net}-x`, 204)).rejects.toThrow(/subnet index in use.*EEXIST/);
    await expect(keeper.createNetwork(`${net}-y`, 256)).rejects.toThrow(/subnet index 256 is out of range/);
    const host = specFor(keeper, ['sleep', '100'], { netMode: 'host' });
    await keeper.createContainer(host);
    await expect(keeper.attachNetwork(host.id, net, '10.89.204.2', 24)).rejects.toThrow(/shares the host network namespace: EINVAL/);
    await keeper.removeContainer(host.id);
    const iso = specFor(keeper, ['sleep', '100'], { netMode: 'isolated' });
    await keeper.createContainer(iso);
    await expect(keeper.attachNetwork(iso.id, 'no-such-net', '10.89.204.2', 24)).rejects.toThrow(/no such network: ENOENT/);
    await expect(keeper.attachNetwork(iso.id, net, '10.89.204', 24)).rejects.toThrow(/not an IPv4 address/);
    await expect(keeper.attachNetwork(iso.id, net, '10.89.204.2', 24, { unreachable: ['10.89.0.0'] })).rejects.toThrow(/not an IPv4 CIDR/);
    await expect(keeper.attachNetwork('no-such-container', net, '10.89.204.2', 24)).rejects.toThrow(/no such container: ESRCH/);
    expect(await keeper.attachNetwork(iso.id, net, '10.89.204.2', 24)).toBe('eth1');
    // A second network gets the next interface.
    await keeper.createNetwork(`${net}-2`, 206);
    expect(await keeper.attachNetwork(iso.id, `${net}-2`, '10.89.206.2', 24)).toBe('eth2');
    await keeper.removeContainer(iso.id);
    await keeper.removeNetwork(net);
    await keeper.removeNetwork(`${net}-2`);
  });
});

async function logOf(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile(path, 'utf8')).split('\n').map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, '')).join('\n');
}

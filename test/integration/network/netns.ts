/** Test helpers: a user+net namespace like the keeper's (held by a `sleep`), and running commands inside it. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface TestNamespace { pid: number; child: ChildProcess; kill(): Promise<void> }

/** `unshare --user --map-root-user --net sleep`: works as root and rootless (the user maps itself to 0). */
export async function createNamespace(): Promise<TestNamespace> {
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '600'], { stdio: 'ignore' });
  const pid = child.pid!;
  const own = await readlink('/proc/self/ns/net');
  for (let i = 0; i < 400; i++) {
    const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => own);
    const comm = await exec('cat', [`/proc/${pid}/comm`]).then((r) => r.stdout.trim(), () => '');
    if (ns !== own && comm === 'sleep') break;
    if (child.exitCode !== null) throw new Error(`unshare exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return {
    pid, child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs a command in the namespace's user+net namespaces. */
export async function inNs(pid: number, argv: string[], timeoutMs = 10_000): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await exec('nsenter', ['--target', String(pid), '--user', '--net', '--preserve-credentials', ...argv], { timeout: timeoutMs });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : -1 };
  }
}

/** Runs a Node one-liner in the namespace. */
export function nodeInNs(pid: number, script: string, timeoutMs = 10_000) {
  return inNs(pid, [process.execPath, '-e', script], timeoutMs);
}

/** Whether a process is alive (and not a zombie). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await exec('cat', [`/proc/${pid}/stat`]).then((r) => r.stdout, () => '');
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** A tiny DNS server on 127.0.0.1 answering A records from `table` (NXDOMAIN otherwise). */
export async function startDnsServer(table: Record<string, string>): Promise<{ port: number; queries: string[]; close(): Promise<void> }> {
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    let off = 12;
    const labels: string[] = [];
    while (msg[off]! > 0) { labels.push(msg.subarray(off + 1, off + 1 + msg[off]!).toString()); off += msg[off]! + 1; }
    const qEnd = off + 5;
    const name = labels.join('.').toLowerCase();
    const qtype = msg.readUInt16BE(off + 1);
    queries.push(name);
    const ip = table[name];
    const answer = ip && qtype === 1;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180 | (ip ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, qEnd)];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(60, 6); rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
      parts.push(rr);
    }
    sock.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, queries, close: () => new Promise((r) => sock.close(() => r())) };
}

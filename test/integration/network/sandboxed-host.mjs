// Runs INSIDE a user+net+mount namespace made by the test (`unshare --user --map-root-user --net --mount`), which
// plays "the host": its only non-loopback route goes into a veth pair that leads nowhere, and its /etc/resolv.conf
// (bind-mounted) names a DNS server this script runs on 127.0.0.1:53. So the helpers' DNS forwarders and the
// no-host-access path can be exercised without any packet leaving namespaces the test created.
// argv: <compiled network module> <tool> <tool path>
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import dgram from 'node:dgram';
import { readlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [modulePath, tool, toolPath] = process.argv.slice(2);
const { startOutbound } = await import(modulePath);
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' });

sh('ip', 'link', 'set', 'lo', 'up');
sh('ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
sh('ip', 'link', 'set', 'v0', 'up');
sh('ip', 'link', 'set', 'v1', 'up');
sh('ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'v0');
sh('ip', 'route', 'add', 'default', 'via', '192.0.2.1');
const dir = mkdtempSync(join(tmpdir(), 'slipway-fakehost-'));
writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
sh('mount', '--bind', join(dir, 'resolv.conf'), '/etc/resolv.conf');

const tcpSeen = [];
const server = net.createServer((s) => { tcpSeen.push(s.remoteAddress); s.end('hello\n'); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

const dnsQueries = [];
const dns = dgram.createSocket('udp4');
dns.on('message', (msg, rinfo) => {
  let off = 12; const labels = [];
  while (msg[off] > 0) { labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString()); off += msg[off] + 1; }
  const name = labels.join('.').toLowerCase(); dnsQueries.push(name);
  const ok = name === 'probe.slipway.test' && msg.readUInt16BE(off + 1) === 1;
  const h = Buffer.alloc(12); msg.copy(h, 0, 0, 2); h.writeUInt16BE(ok ? 0x8180 : 0x8183, 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(ok ? 1 : 0, 6);
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 77]);
  dns.send(Buffer.concat([h, msg.subarray(12, off + 5), ...(ok ? [rr] : [])]), rinfo.port, rinfo.address);
});
await new Promise((r) => dns.bind(53, '127.0.0.1', r));

async function innerNamespace() {
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '600'], { stdio: 'ignore' });
  const own = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 400; i++) {
    let ns = own; try { ns = readlinkSync(`/proc/${child.pid}/ns/net`); } catch {}
    if (ns !== own) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 20));
  return child;
}
// Asynchronous: the servers above run in this same event loop.
async function inInner(pid, script) {
  try {
    const r = await promisify(execFile)('nsenter', ['--target', String(pid), '--user', '--net', '--preserve-credentials', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10000 });
    return r.stdout.trim();
  } catch (e) { return `FAILED ${e.stdout ?? ''} ${e.stderr ?? ''}`.trim(); }
}
const connect = `const s = require('net').connect(${port}, '10.0.2.2'); let d = ''; s.setTimeout(2000, () => { console.log('TIMEOUT'); process.exit(0); });
  s.on('data', (b) => d += b); s.on('end', () => { console.log('GOT ' + d.trim()); process.exit(0); }); s.on('error', (e) => { console.log('ERR ' + e.code); process.exit(0); });`;
const resolve = `const { Resolver } = require('dns').promises; const r = new Resolver({ timeout: 2000, tries: 1 }); r.setServers(['10.0.2.3']);
  r.resolve4('probe.slipway.test').then((a) => console.log(a.join(',')), (e) => console.log('ERR ' + e.code));`;

const results = {};
for (const hostLoopback of [true, false]) {
  const inner = await innerNamespace();
  const before = tcpSeen.length;
  let out;
  try {
    const n = await startOutbound(inner.pid, { hostLoopback, prefer: tool, tools: { [tool]: toolPath } });
    const connected = await inInner(inner.pid, connect);
    out = { tool: n.tool, connect: connected, tcpSeen: tcpSeen.slice(before), dns: await inInner(inner.pid, resolve) };
    await n.close();
  } catch (e) { out = { error: String(e.message) }; }
  inner.kill('SIGKILL');
  results[hostLoopback ? 'hostLoopback' : 'noHostAccess'] = out;
}
results.dnsQueries = dnsQueries;
console.log(JSON.stringify(results));
server.close(); dns.close();
process.exit(0);

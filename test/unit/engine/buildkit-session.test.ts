import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type ClientHttp2Session } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineClient } from '../../../src/engine/client.js';
import { openBuildSession } from '../../../src/engine/buildkit-session.js';
import { bytesField, decodeFields } from '../../../src/engine/protobuf.js';

/**
 * A fake engine on a unix socket: `/_ping` and `/version` as Docker answers them, and `POST /session` upgraded to h2c,
 * after which it is the HTTP/2 client of the session, as dockerd is.
 */
function fakeEngine(sock: string): Promise<{ server: Server; session: Promise<{ req: IncomingMessage; h2: ClientHttp2Session }> }> {
  let got: (v: { req: IncomingMessage; h2: ClientHttp2Session }) => void;
  const session = new Promise<{ req: IncomingMessage; h2: ClientHttp2Session }>((r) => { got = r; });
  const server = createServer((req, res) => {
    if (req.url === '/_ping') res.writeHead(200, { 'Api-Version': '1.41' }).end('OK');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', Os: 'linux', Arch: 'amd64', Components: [{ Name: 'Engine' }] }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    got({ req, h2: connect('http://session', { createConnection: () => socket }) });
  });
  return new Promise((resolve) => server.listen(sock, () => resolve({ server, session })));
}

/** One unary gRPC call over the session, as the engine makes it: the response message and grpc-status. */
function call(h2: ClientHttp2Session, path: string, msg: Buffer): Promise<{ status: string; message?: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = h2.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let status = '';
    s.on('response', (h) => { if (h['grpc-status'] !== undefined) status = String(h['grpc-status']); });
    s.on('trailers', (t) => { status = String(t['grpc-status']); });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const body = Buffer.concat(chunks);
      resolve({ status, message: body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : undefined });
    });
    const head = Buffer.alloc(5);
    head.writeUInt32BE(msg.length, 1);
    s.end(Buffer.concat([head, msg]));
  });
}

describe('a BuildKit session served to the engine', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'slipway-session-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('announces its methods, serves a given secret, NotFound for another, and health', async () => {
    const sock = join(dir, 'engine.sock');
    const { server, session } = await fakeEngine(sock);
    const client = new EngineClient({ kind: 'unix', socketPath: sock, source: 'test' } as never);
    const opened = await openBuildSession(client, new Map([['tok', Buffer.from('s3cr3t')]]));
    try {
      const { req, h2 } = await session;
      expect(req.url).toBe('/v1.41/session');
      expect(req.headers['x-docker-expose-session-uuid']).toBe(opened.id);
      expect(req.headers['x-docker-expose-session-grpc-method']).toBe('/moby.buildkit.secrets.v1.Secrets/GetSecret, /grpc.health.v1.Health/Check');
      const served = await call(h2, '/moby.buildkit.secrets.v1.Secrets/GetSecret', bytesField(1, 'tok'));
      expect(served.status).toBe('0');
      expect(decodeFields(served.message!)[0]!.bytes!.toString()).toBe('s3cr3t');
      expect((await call(h2, '/moby.buildkit.secrets.v1.Secrets/GetSecret', bytesField(1, 'other'))).status).toBe('5');
      const health = await call(h2, '/grpc.health.v1.Health/Check', Buffer.alloc(0));
      expect(health.status).toBe('0');
      expect(decodeFields(health.message!)[0]!.varint).toBe(1n); // SERVING
      expect((await call(h2, '/moby.filesync.v1.FileSync/DiffCopy', Buffer.alloc(0))).status).toBe('12'); // not served
      h2.destroy();
    } finally {
      opened.close();
      opened.close();
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

/**
 * A BuildKit session, as the docker CLI opens one for `docker build` (moby client/session, buildkit session/grpc.go):
 * `POST /session` upgraded to h2c, after which the roles turn round: the engine is the HTTP/2 client and calls gRPC
 * methods that this process serves on the same connection. The methods are announced as request headers; the build
 * names the session by its id (`/build?session=<id>`). Served here: `moby.buildkit.secrets.v1.Secrets/GetSecret`
 * (a RUN --mount=type=secret asks for its id; the value goes from memory to the engine, never through a file or the
 * context), `moby.filesync.v1.Auth/Credentials` (BuildKit asks the client for a registry's credentials when it answers
 * 401: a FROM image on a private registry; the engine ignores `X-Registry-Config` under BuildKit) and
 * `grpc.health.v1.Health/Check` (the engine closes a session that stops answering it).
 */
import { randomBytes } from 'node:crypto';
import { createServer, constants, type ServerHttp2Stream } from 'node:http2';
import { logger } from '../internal/debug.js';
import type { EngineClient } from './client.js';
import { bytesField, decodeFields, varintField } from './protobuf.js';

const log = logger('engine:session');

const GET_SECRET = '/moby.buildkit.secrets.v1.Secrets/GetSecret';
const HEALTH = '/grpc.health.v1.Health/Check';
/** Docker 20.10's BuildKit (v0.8) calls only this one; later ones try `FetchToken` first and fall back to it on Unimplemented. */
const CREDENTIALS = '/moby.filesync.v1.Auth/Credentials';

/** A registry's credentials for BuildKit: a user and password, or an identity token as the secret with no user. */
export interface SessionCredentials {
  username: string;
  secret: string;
}

/** Looks up the credentials for a registry host (`registry-1.docker.io` is asked for Docker Hub); undefined: none. */
export type CredentialLookup = (host: string) => Promise<SessionCredentials | undefined>;

/** gRPC status codes used here (grpc/codes). */
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

/** An open session: its id for the build request, and `close()` (idempotent) once the build has ended. */
export interface BuildSession {
  id: string;
  close(): void;
}

/** A gRPC message framed for the wire: compressed flag 0, big-endian length, the message. */
function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The one message of a unary call's request body (undefined when it is cut short or compressed, which we never announce). */
function unframe(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const len = body.readUInt32BE(1);
  return body.length >= 5 + len ? body.subarray(5, 5 + len) : undefined;
}

function reply(stream: ServerHttp2Stream, status: number, message: string, body?: Buffer): void {
  if (stream.destroyed) return;
  const trailers = { 'grpc-status': String(status), ...(message ? { 'grpc-message': encodeURIComponent(message) } : {}) };
  if (body === undefined) {
    // Trailers-only: the status travels in the response headers.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(trailers));
  stream.end(frame(body));
}

/**
 * Opens a session on the engine that serves `secrets` (id → value) to the builds that name it.
 * @throws SlipwayError `ERR_RUNTIME` when the engine refuses the upgrade (an engine without BuildKit sessions).
 */
export async function openBuildSession(client: EngineClient, secrets: ReadonlyMap<string, Buffer>, credentials?: CredentialLookup): Promise<BuildSession> {
  const id = randomBytes(16).toString('hex');
  const { socket, head } = await client.hijack('/session', undefined, {
    upgrade: 'h2c',
    headers: {
      'X-Docker-Expose-Session-Uuid': id,
      'X-Docker-Expose-Session-Name': 'slipway',
      'X-Docker-Expose-Session-Sharedkey': id,
      'X-Docker-Expose-Session-Grpc-Method': [GET_SECRET, HEALTH, ...(credentials ? [CREDENTIALS] : [])],
    },
  });
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const method = String(headers[':path'] ?? '');
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      // A request here is an id of a few bytes: more is not a call we serve.
      if (size > 64 * 1024) stream.close(constants.NGHTTP2_REFUSED_STREAM);
      else chunks.push(c);
    });
    stream.on('error', () => {});
    stream.on('end', () => {
      const msg = unframe(Buffer.concat(chunks));
      if (method === HEALTH) {
        reply(stream, 0, '', varintField(1, 1)); // HealthCheckResponse{status: SERVING}
        return;
      }
      if (method === CREDENTIALS && credentials && msg) {
        const host = decodeFields(msg).find((f) => f.no === 1)?.bytes?.toString() ?? '';
        // No credentials: empty ones, as the docker CLI answers (the registry's 401 then fails the pull).
        credentials(host).catch(() => undefined).then((c) => {
          log('session %s: credentials for %s %s', id.slice(0, 8), JSON.stringify(host), c ? 'served' : 'none');
          reply(stream, 0, '', c ? Buffer.concat([bytesField(1, c.username), bytesField(2, c.secret)]) : Buffer.alloc(0));
        }, () => {});
        return;
      }
      if (method !== GET_SECRET || !msg) {
        reply(stream, UNIMPLEMENTED, `slipway does not serve ${method}`);
        return;
      }
      const secretId = decodeFields(msg).find((f) => f.no === 1)?.bytes?.toString() ?? '';
      const value = secrets.get(secretId);
      log('session %s: secret %s %s', id.slice(0, 8), JSON.stringify(secretId), value ? 'served' : 'not given');
      // NotFound is what BuildKit expects for a secret that was not given: an optional mount is then left out.
      if (!value) reply(stream, NOT_FOUND, `secret ${secretId} not found`);
      else reply(stream, 0, '', bytesField(1, value)); // GetSecretResponse{data}
    });
  });
  server.on('sessionError', (e) => log('session %s: %s', id.slice(0, 8), e.message));
  if (head.length) socket.unshift(head);
  // The session lives as long as the build request that names it: it must not keep the process alive by itself.
  socket.unref();
  server.emit('connection', socket);
  let closed = false;
  return {
    id,
    close: () => {
      if (closed) return;
      closed = true;
      socket.destroy();
      server.close();
    },
  };
}

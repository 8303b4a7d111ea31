/** An in-process fake registry (node:http on 127.0.0.1:0) with fault injection, for unit tests. */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface RequestLog { method: string; path: string; headers: http.IncomingHttpHeaders; host: string }

export type Hook = (req: http.IncomingMessage, res: http.ServerResponse, log: RequestLog) => boolean | Promise<boolean>;

export interface FakeRegistryOptions {
  auth?: 'none' | 'bearer' | 'basic';
  /** Required username:password for bearer token issuance / basic; undefined = anonymous tokens allowed. */
  users?: Record<string, string>;
  /** Whether blob GETs honour Range. */
  range?: boolean;
  tokenExpiresIn?: number;
}

export class FakeRegistry {
  readonly server: http.Server;
  readonly log: RequestLog[] = [];
  readonly manifests = new Map<string, { body: Buffer; contentType: string }>(); // `${repo}:${ref}`
  readonly blobs = new Map<string, Buffer>();
  hooks: Hook[] = [];
  tokensIssued = 0;
  port = 0;
  constructor(readonly opts: FakeRegistryOptions = {}) {
    this.server = http.createServer((req, res) => {
      void this.#handle(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  blobFetches(digest: string): number {
    return this.log.filter((l) => l.method === 'GET' && l.path.endsWith(`/blobs/${digest}`)).length;
  }

  /** The blob or manifest a request asks for (for fault hooks that need the real bytes). */
  bodyOf(req: http.IncomingMessage): Buffer | undefined {
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)/.exec(req.url ?? '');
    if (!m) return undefined;
    return m[2] === 'blobs' ? this.blobs.get(m[3]!) : this.manifests.get(`${m[1]}:${m[3]}`)?.body;
  }

  putBlob(b: Buffer): string {
    const d = sha256(b);
    this.blobs.set(d, b);
    return d;
  }

  putManifest(repo: string, tags: string[], body: Buffer | object, contentType: string): string {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const d = sha256(buf);
    for (const t of [...tags, d]) this.manifests.set(`${repo}:${t}`, { body: buf, contentType });
    return d;
  }

  #authorized(req: http.IncomingMessage): boolean {
    const mode = this.opts.auth ?? 'none';
    if (mode === 'none') return true;
    const a = req.headers.authorization ?? '';
    if (mode === 'basic') return this.#checkBasic(a);
    return a.startsWith('Bearer tok-');
  }

  #checkBasic(a: string): boolean {
    if (!a.startsWith('Basic ')) return false;
    const [u, ...p] = Buffer.from(a.slice(6), 'base64').toString().split(':');
    return this.opts.users?.[u!] === p.join(':');
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url!, `http://${req.headers.host}`);
    const entry: RequestLog = { method: req.method!, path: url.pathname + url.search, headers: req.headers, host: req.headers.host ?? '' };
    this.log.push(entry);
    for (const h of this.hooks) if (await h(req, res, entry)) return;
    if (url.pathname === '/token') {
      if (this.opts.users && !this.#checkBasic(req.headers.authorization ?? '')) {
        res.writeHead(401).end('bad creds');
        return;
      }
      this.tokensIssued++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: `tok-${this.tokensIssued}-${url.searchParams.getAll('scope').join(',')}`, expires_in: this.opts.tokenExpiresIn ?? 300 }));
      return;
    }
    if (!this.#authorized(req)) {
      const mode = this.opts.auth;
      const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1];
      res.writeHead(401, {
        'www-authenticate': mode === 'basic' ? 'Basic realm="fake"' : `Bearer realm="http://${this.host}/token",service="fake"${repo ? `,scope="repository:${repo}:pull"` : ''}`,
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200).end('{}');
      return;
    }
    let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const man = this.manifests.get(`${m[1]}:${m[2]}`);
      if (!man) {
        res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': man.contentType, 'content-length': man.body.length, 'docker-content-digest': sha256(man.body) });
      res.end(man.body);
      return;
    }
    m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const blob = this.blobs.get(m[2]!);
      if (!blob) {
        res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range && this.opts.range !== false) {
        const from = Number(range[1]);
        res.writeHead(206, { 'content-length': blob.length - from, 'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}` });
        res.end(blob.subarray(from));
        return;
      }
      res.writeHead(200, { 'content-length': blob.length, 'content-type': 'application/octet-stream' });
      res.end(blob);
      return;
    }
    res.writeHead(404).end();
  }
}

/** Which requests a fault hook applies to: a path substring (e.g. `/blobs/`, `/manifests/`, `/v2/`) or a predicate. */
export type RequestMatch = string | ((req: http.IncomingMessage) => boolean);

function matches(m: RequestMatch, req: http.IncomingMessage): boolean {
  if (typeof m === 'function') return m(req);
  return m === '/v2/' ? req.url === '/v2/' : (req.url ?? '').includes(m);
}

/**
 * Fault hooks for {@link FakeRegistry.hooks}: each answers matching requests badly and leaves the others to
 * the registry. `times` limits how many requests it takes (default: all).
 */
export const faults = {
  /** Accepts the request and never answers (the socket stays open until the server closes). */
  silent(match: RequestMatch, times = Infinity): Hook {
    let n = 0;
    return (req) => matches(match, req) && n++ < times;
  },
  /** Sends the headers (the real Content-Length when `body` is given), then one byte per `everyMs` (`Infinity`: nothing). */
  trickle(match: RequestMatch, body?: (req: http.IncomingMessage) => Buffer | undefined, everyMs = 1000, times = Infinity): Hook {
    let n = 0;
    return (req, res) => {
      if (!matches(match, req) || n++ >= times) return false;
      const b = body?.(req) ?? Buffer.alloc(1 << 20, 0x61);
      res.writeHead(200, { 'content-length': b.length, 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      if (!Number.isFinite(everyMs)) return true; // headers, then silence
      let i = 0;
      const t = setInterval(() => {
        if (res.destroyed || i >= b.length) return clearInterval(t);
        res.write(b.subarray(i, ++i));
      }, everyMs);
      res.on('close', () => clearInterval(t));
      return true;
    };
  },
  /** Answers with an HTTP status (default 500). */
  status(match: RequestMatch, code = 500, times = Infinity): Hook {
    let n = 0;
    return (req, res) => {
      if (!matches(match, req) || n++ >= times) return false;
      res.writeHead(code, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"internal error"}]}');
      return true;
    };
  },
  /** Announces the full Content-Length, sends `keep` bytes of the body, then closes the connection. */
  truncate(match: RequestMatch, body: (req: http.IncomingMessage) => Buffer | undefined, keep: number, times = Infinity): Hook {
    let n = 0;
    return (req, res) => {
      const b = matches(match, req) ? body(req) : undefined;
      if (!b || n++ >= times) return false;
      res.writeHead(200, { 'content-length': b.length, 'content-type': 'application/octet-stream' });
      res.write(b.subarray(0, keep), () => res.destroy());
      return true;
    };
  },
};

/** One tar entry for {@link makeTar}. */
export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** Builds an uncompressed tar. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const mode = e.mode ?? (type === 'directory' ? 0o755 : 0o644);
    const header = {
      name: e.name, type, mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? new Date(1_700_000_000_000),
      linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor, pax: e.pax,
    };
    if (type === 'file') p.entry(header, typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0)));
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface BuiltLayer { tar: Buffer; blob: Buffer; digest: string; diffId: string; mediaType: string }

export async function makeLayer(entries: TarEntry[], compression: 'gzip' | 'none' | 'zstd' = 'gzip'): Promise<BuiltLayer> {
  const tar = await makeTar(entries);
  let blob = tar;
  let mediaType = 'application/vnd.oci.image.layer.v1.tar';
  if (compression === 'gzip') {
    blob = zlib.gzipSync(tar);
    mediaType += '+gzip';
  } else if (compression === 'zstd') {
    const { execFileSync } = await import('node:child_process');
    blob = execFileSync('zstd', ['-q', '-c'], { input: tar });
    mediaType += '+zstd';
  }
  return { tar, blob, digest: sha256(blob), diffId: sha256(tar), mediaType };
}

export interface PushOptions {
  repo: string;
  tags?: string[];
  layers: BuiltLayer[];
  config?: Record<string, unknown>;
  platform?: { os: string; architecture: string; variant?: string };
  docker?: boolean;
}

/** Pushes a single-platform image; returns the manifest digest and the config digest. */
export function pushImage(reg: FakeRegistry, o: PushOptions): { digest: string; configDigest: string; manifest: Buffer } {
  const platform = o.platform ?? { os: 'linux', architecture: hostArch() };
  const config = Buffer.from(JSON.stringify({
    ...platform,
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['sh'], ...o.config },
    rootfs: { type: 'layers', diff_ids: o.layers.map((l) => l.diffId) },
  }));
  const configDigest = reg.putBlob(config);
  for (const l of o.layers) reg.putBlob(l.blob);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: o.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: o.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: o.layers.map((l) => ({ mediaType: o.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : l.mediaType, digest: l.digest, size: l.blob.length })),
  }));
  const digest = reg.putManifest(o.repo, o.tags ?? ['latest'], manifest, o.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json');
  return { digest, configDigest, manifest };
}

export function hostArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
}

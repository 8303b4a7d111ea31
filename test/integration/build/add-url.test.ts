/**
 * `ADD <url>` with Docker's semantics against an HTTP server this test runs on 127.0.0.1: the file named by the URL
 * (or the destination), mode 0600, the server's Last-Modified as mtime, never extracted, `--checksum` checked; clear
 * errors for HTTP errors, oversize bodies, a server that never answers and git URLs.
 */
import { createServer, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/index.js';
import { buildImage } from '../../../src/build/builder.js';
import { REMOTE_LIMITS } from '../../../src/build/remote.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { codeOf, context, inspect } from './build-helpers.js';

const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';
const files = new Map<string, Buffer>([['/files/notes.txt', Buffer.from(`notes ${Math.random()}\n`)], ['/files/pkg.tar.gz', gzipSync(randomBytes(2048))]]);
let server: Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = req.url ?? '';
    if (url === '/redirect') return void res.writeHead(302, { location: '/files/notes.txt' }).end();
    if (url === '/hang') return; // never answers
    if (url === '/big') return void res.writeHead(200, { 'content-length': '4096' }).end(Buffer.alloc(4096));
    if (url === '/big-chunked') {
      res.writeHead(200);
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024));
      return void res.end();
    }
    const body = files.get(url);
    if (!body) return void res.writeHead(404, 'Not Found').end('no');
    res.writeHead(200, { 'last-modified': LAST_MODIFIED, 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('ADD <url>', () => {
  it('downloads: named by the URL (or the destination), mode 0600 root-owned, Last-Modified as mtime, not extracted; --checksum, --chown, --chmod; cached by content', async () => {
    const notes = files.get('/files/notes.txt')!;
    const ctx = await context({
      'Dockerfile': [
        `FROM ${fixtureRef('busybox')}`,
        `ADD ${base}/files/pkg.tar.gz /dl/`,
        `ADD --checksum=sha256:${sha(notes)} ${base}/files/notes.txt /renamed.txt`,
        `ADD --chown=1000:1000 --chmod=0644 ${base}/redirect /dl/`,
        `RUN stat -c %Y /renamed.txt > /mtime`,
      ].join('\n'),
    });
    const first = await buildImage(ctx, { tag: `slipway-test/add-url:${Date.now()}` });
    expect(await inspect(first.ref, ['/dl/pkg.tar.gz', '/renamed.txt', '/dl/redirect', '/mtime'])).toEqual({
      '/dl/pkg.tar.gz': '600 0:0 regular file', '/renamed.txt': `600 0:0 regular file\n${notes.toString().trim()}`,
      '/dl/redirect': `644 1000:1000 regular file\n${notes.toString().trim()}`, '/mtime': `644 0:0 regular file\n${Date.parse(LAST_MODIFIED) / 1000}`,
    });
    // Downloaded again each build (as BuildKit), cached while the content is the same; a change re-runs from there.
    const before = hits.length;
    const again = await buildImage(ctx, {});
    expect([again.executed, again.digest, hits.length - before]).toEqual([0, first.digest, 4]); // 3 URLs, one redirected
    files.set('/files/pkg.tar.gz', gzipSync(randomBytes(2048)));
    expect((await buildImage(ctx, {})).executed).toBe(4);
  });

  it('errors: a wrong checksum, an HTTP error, a body over the limit (with or without Content-Length), a server that never answers, git URLs, COPY of a URL', async () => {
    const build = async (line: string): Promise<unknown> => buildImage(await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\n${line}\n` }), {}).then(() => 'resolved', (e: unknown) => e);
    const mismatch = await build(`ADD --checksum=sha256:${'0'.repeat(64)} ${base}/files/notes.txt /x`);
    expect(SlipwayError.is(mismatch, 'ERR_BUILD') && mismatch.message).toMatch(/line 2 \(ADD .*notes\.txt\): checksum mismatch: expected sha256:0{64}, got sha256:[0-9a-f]{64}/);
    expect((await build(`ADD --checksum=md5:abc ${base}/files/notes.txt /x`) as Error).message).toMatch(/invalid --checksum=md5:abc/);
    expect((await build(`ADD ${base}/missing /x`) as Error).message).toMatch(/the server answered 404 Not Found/);
    const limits = { ...REMOTE_LIMITS };
    try {
      REMOTE_LIMITS.maxBytes = 2048;
      expect((await build(`ADD ${base}/big /x`) as Error).message).toMatch(/the file is 4096 bytes, over the 2048-byte limit/);
      expect((await build(`ADD ${base}/big-chunked /x`) as Error).message).toMatch(/exceeds the 2048-byte limit/);
      REMOTE_LIMITS.timeoutMs = 500;
      expect((await build(`ADD ${base}/hang /x`) as Error).message).toMatch(/did not finish within 0.5 s/);
    } finally {
      Object.assign(REMOTE_LIMITS, limits);
    }
    // Refused before any connection: no network is used.
    for (const git of ['https://github.com/example/repo.git#main', 'git@github.com:example/repo.git', 'git://example.invalid/repo']) {
      const e = await build(`ADD ${git} /src`);
      expect(SlipwayError.is(e, 'ERR_UNSUPPORTED') && e.message).toMatch(/ADD of a git repository is not supported/);
    }
    expect(await codeOf(buildImage(await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nCOPY ${base}/files/notes.txt /x\n` })))).toBe('ERR_BUILD');
    expect(await codeOf(buildImage(await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nCOPY --checksum=sha256:${'0'.repeat(64)} Dockerfile /x\n`, 'a': '' })))).toBe('ERR_DOCKERFILE_PARSE');
    expect(await codeOf(buildImage(await context({ 'Dockerfile': `FROM ${fixtureRef('busybox')}\nADD --checksum=sha256:${'0'.repeat(64)} Dockerfile /x\n` })))).toBe('ERR_BUILD');
  });
});

// An implicit pull in start() on the engine behaves as natively: bounded by withPullTimeout() (ERR_PULL_TIMEOUT naming
// the image and the setting), cancelled by the start's AbortSignal (ERR_ABORTED), and nothing left behind: no
// container, no image, and the engine itself stops fetching (the registry sees its blob request go away).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { existingEngineSession } from '../../../src/runtime/engine/session.js';
import { freshImage } from '../harness/fresh-image.js';
import { skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A registry on 127.0.0.1 (an insecure registry to dockerd by default) serving one image whose layer never finishes:
 * its blob response trickles until the client goes away.
 */
async function stallingRegistry() {
  const { layer, config, manifest, digest } = await freshImage();
  const state = { blobRequests: 0, blobOpen: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url === '/v2/' || url === '/v2') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    if (/\/manifests\//.test(url)) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digest.manifest, 'content-length': manifest.length });
      res.end(req.method === 'HEAD' ? undefined : manifest);
      return;
    }
    if (url.endsWith(`/blobs/${digest.config}`)) { res.writeHead(200, { 'content-length': config.length }).end(config); return; }
    if (url.endsWith(`/blobs/${digest.layer}`)) {
      state.blobRequests++;
      state.blobOpen++;
      res.on('close', () => { state.blobOpen--; });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': layer.length });
      // A slow link that never finishes: 64 KiB, then 1 KiB every 200 ms up to 4 KiB short of the end. (Docker 20.10
      // notices a cancelled pull at its next read: a registry that sends nothing at all keeps its fetch open.)
      res.write(layer.subarray(0, 1 << 16));
      let at = 1 << 16;
      const trickle = setInterval(() => { if (at < layer.length - 4096) { res.write(layer.subarray(at, at + 1024)); at += 1024; } }, 200);
      res.on('close', () => clearInterval(trickle));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, state, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine backend: the pull in start()', () => {
  // One registry (one fresh layer) per test: the engine shares a download between pulls of the same layer.
  let reg: Awaited<ReturnType<typeof stallingRegistry>>;
  const servers: Server[] = [];
  beforeEach(async () => { reg = await stallingRegistry(); servers.push(reg.server); });
  afterAll(() => { for (const s of servers) { s.closeAllConnections(); s.close(); } });

  /** Nothing of the start is left: no container of this session, the image not in the engine, the engine's fetch gone. */
  async function nothingLeft(ref: string): Promise<void> {
    await waitFor(() => reg.state.blobOpen === 0, 30_000);
    expect(() => docker('image', 'inspect', ref)).toThrow();
    const s = await existingEngineSession();
    if (s) expect(docker('ps', '-aq', '--filter', `label=org.slipway.session=${s.id}`)).toBe('');
  }

  it('withPullTimeout() bounds the implicit pull: ERR_PULL_TIMEOUT naming the image and the setting', async () => {
    const ref = `${reg.address}/stall/timeout-${randomBytes(4).toString('hex')}:latest`;
    const before = reg.state.blobRequests;
    const guard = new Promise((_, reject) => setTimeout(() => reject(new Error('start() did not end within 60 s')), 60_000).unref());
    const err = await Promise.race([new Container(ref).withPullTimeout(3000).withCommand(['x']).start(), guard]).catch((e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_PULL_TIMEOUT')).toBe(true);
    const e = err as SlipwayError;
    expect(e.message).toContain(ref);
    expect(e.message).toContain('3000 ms');
    expect(e.hint).toContain('pullTimeout setting');
    expect(e.hint).toContain('withPullTimeout');
    // The engine was fetching the layer when the limit came.
    expect(reg.state.blobRequests).toBeGreaterThan(before);
    await nothingLeft(ref);
  }, 120_000);

  it('the start\'s AbortSignal cancels the implicit pull: ERR_ABORTED, and the engine stops fetching', async () => {
    const ref = `${reg.address}/stall/abort-${randomBytes(4).toString('hex')}:latest`;
    const before = reg.state.blobRequests;
    const ac = new AbortController();
    const started = new Container(ref).withCommand(['x']).start({ signal: ac.signal }).catch((e: unknown) => e);
    await waitFor(() => reg.state.blobRequests > before, 60_000);
    ac.abort();
    const guard = new Promise((_, reject) => setTimeout(() => reject(new Error('start() did not end within 60 s of the abort')), 60_000).unref());
    const err = await Promise.race([started, guard]);
    expect(SlipwayError.is(err, 'ERR_ABORTED')).toBe(true);
    expect((err as SlipwayError).message).toContain(ref);
    await nothingLeft(ref);
  }, 120_000);
});

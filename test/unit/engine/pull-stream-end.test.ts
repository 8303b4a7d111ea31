import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineHttpError } from '../../../src/engine/client.js';
import { ensureImage } from '../../../src/runtime/engine/engine-image.js';

/** A fake engine: its pull stream is `chunks`; it never lists the image. */
function engine(chunks: string[]): never {
  return {
    call: async () => { throw new EngineHttpError(404, 'engine GET /images/x/json: 404 No such image'); },
    stream: async () => ({ body: (async function* () { for (const c of chunks) yield Buffer.from(c); })() }),
  } as never;
}

describe("the engine's pull stream", () => {
  let saved: string | undefined;
  beforeEach(() => { saved = process.env.DOCKER_CONFIG; process.env.DOCKER_CONFIG = mkdtempSync(join(tmpdir(), 'slipway-no-creds-')); });
  afterEach(() => { if (saved === undefined) delete process.env.DOCKER_CONFIG; else process.env.DOCKER_CONFIG = saved; });

  it('an error on a last line without a newline is the pull error (it was dropped, and the pull looked complete)', async () => {
    const chunks = ['{"status":"Pulling from r/x","id":"latest"}\r\n', '{"errorDetail":{"message":"Head \\"http://127.0.0.1:5000/v2/r/x/manifests/latest\\": no basic auth credentials"},"error":"Head \\"http://127.0.0.1:5000/v2/r/x/manifests/latest\\": no basic auth credentials"}'];
    await expect(ensureImage(engine(chunks), '127.0.0.1:5000/r/x:latest', { policy: 'always' })).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
  });

  it('a stream that ends without an error while the engine lists no image names its last line', async () => {
    const chunks = ['{"status":"Pulling from r/x","id":"latest"}\n', '{"status":"Pulling fs layer","id":"0123456789ab"}\n'];
    const err = await ensureImage(engine(chunks), '127.0.0.1:5000/r/x:latest', { policy: 'always' }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
    expect((err as Error).message).toContain('Pulling fs layer');
  });
});

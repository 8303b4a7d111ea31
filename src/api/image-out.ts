/**
 * `exportImage()` and `pushImage()` as the API offers them: they read slipway's image store, which the engine runtime
 * does not fill (its builds, commits and pulls land in the engine's store). There an image the store lacks is refused
 * with the engine's own commands instead of "not in slipway's store".
 */
import { withSettings } from '../config/index.js';
import { SlipwayError } from '../errors.js';
import { exportImage as exportFromStore, type ExportedImage, type ExportImageOptions } from '../image/export.js';
import { pushImage as pushFromStore, type PushedImage, type PushImageOptions } from '../image/push.js';
import { onEngineRuntime, pushOnEngine } from '../runtime/index.js';

/** On the engine runtime, the store's "not present" as what to do instead (the image is in the engine's store). */
async function engineInstead(err: unknown, what: string, command: string): Promise<unknown> {
  if (!SlipwayError.is(err, 'ERR_IMAGE_NOT_PRESENT') || !(await onEngineRuntime().catch(() => false))) return err;
  return new SlipwayError('ERR_UNSUPPORTED', `${what} is not supported on the engine runtime: it reads slipway's image store, and the engine runtime's builds, commits and pulls land in the engine's store (${err.shortMessage})`, {
    hint: `use the engine's own command: ${command} (podman the same), or SLIPWAY_RUNTIME=native`, cause: err,
  });
}

/**
 * Exports an image from the store to `oci-layout:<dir>[:tag]` (created, or added to: other images in the layout's
 * `index.json` stay, one with the same tag is replaced) or `docker-archive:<file.tar>` (what `docker save` writes;
 * `docker load -i` and `pull('docker-archive:…')` read it). Both read back with `pull()` / `new Container(dest)`.
 * @throws {@link SlipwayError} `ERR_INVALID_ARGUMENT` (another destination form), `ERR_IMAGE_NOT_PRESENT` (the store
 *   does not hold the image or one of its blobs), `ERR_INVALID_REFERENCE`, `ERR_STORE` (writing failed),
 *   `ERR_UNSUPPORTED` on the engine runtime for an image the store lacks (it is in the engine's: `docker save`)
 * @example
 * import { Container, exportImage } from 'slipway';
 * const ref = await Container.fromDockerfile('./app', { tag: 'app:test' });
 * await exportImage(ref, 'docker-archive:/tmp/app.tar'); // docker load -i /tmp/app.tar
 */
export async function exportImage(ref: string, dest: string, options: ExportImageOptions = {}): Promise<ExportedImage> {
  return withSettings(() => exportFromStore(ref, dest, options).catch(async (err: unknown) => {
    const file = dest.startsWith('docker-archive:') ? dest.slice('docker-archive:'.length) : '<file.tar>';
    throw await engineInstead(err, `exportImage(${JSON.stringify(ref)})`, `docker save -o ${file} ${ref}`);
  }));
}

/**
 * Pushes an image from the store to a registry.
 * @throws {@link SlipwayError} `ERR_IMAGE_NOT_PRESENT` (not in the store), `ERR_INVALID_REFERENCE`, `ERR_REGISTRY_AUTH`
 *   (no credentials or no push rights: `docker login` / `podman login`), `ERR_REGISTRY_UNREACHABLE` (the hint names
 *   `insecureRegistries` when a plain-HTTP registry is not listed), `ERR_REGISTRY_TIMEOUT`, `ERR_DIGEST_MISMATCH`,
 *   `ERR_MANIFEST_INVALID`, `ERR_ABORTED`. On the engine runtime an image the store lacks is pushed by the engine
 *   (`POST /images/{name}/push`, as `docker push`; `uploaded`/`mounted`/`existing` count its layers, not the config)
 * @example
 * import { Container, pushImage } from 'slipway';
 * const ref = await Container.fromDockerfile('./app', { tag: 'localhost:5000/team/app:test' });
 * await pushImage(ref);
 */
export async function pushImage(ref: string, options: PushImageOptions = {}): Promise<PushedImage> {
  return withSettings(() => pushFromStore(ref, options).catch(async (err: unknown) => {
    // On the engine runtime an image the store lacks is the engine's: the engine pushes it (as `docker push`).
    if (SlipwayError.is(err, 'ERR_IMAGE_NOT_PRESENT') && (await onEngineRuntime().catch(() => false))) {
      const pushed = await pushOnEngine(ref, { to: options.to, signal: options.signal });
      if (pushed) return pushed;
      throw err;
    }
    const to = options.to ?? ref;
    throw await engineInstead(err, `pushImage(${JSON.stringify(ref)})`, `${to === ref ? '' : `docker tag ${ref} ${to} && `}docker push ${to}`);
  }), { env: options.env });
}
